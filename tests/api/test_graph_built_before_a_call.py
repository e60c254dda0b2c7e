"""A graph the caller built before an analysis (``loss = crit(model(x), y)`` in one notebook
cell, ``prunelimit.bounds(model, data)`` in the next, ``loss.backward()`` after) still runs
backward afterwards, with the gradients it had: the analyses write pruned weights into the
model and the values back, and autograd's version counters, left raised, refused the graph
('one of the variables needed for gradient computation has been modified by an inplace
operation') on weights as they were."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import prunelimit

ANALYSES = {
    "info": lambda m, d: prunelimit.info(m, d),
    "bounds": lambda m, d: prunelimit.bounds(m, d, method="exact"),
    "verify": lambda m, d: prunelimit.verify(m, d, method="exact", sweep=3),
    "verify_refit": lambda m, d: prunelimit.verify(m, d, method="exact", refit=True, finetune_epochs=1),
    "gate": lambda m, d: prunelimit.gate(m, d, min_ratio=0.0, use="actual"),
    "prune": lambda m, d: prunelimit.prune(m, "auto", d, method="exact"),
    "nplh": lambda m, d: prunelimit.nplh(m, d, metric="gradient"),
    "nplh_iterative": lambda m, d: prunelimit.nplh(m, d, mode="iterative"),
}


def _pruned(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` under torch's pruning (``weight_orig · weight_mask``), which a call folds into
    plain parameters and back: the mask buffers and ``weight_orig`` are written too."""
    return prunelimit.prune(model, 0.4).apply(model)


@pytest.mark.parametrize("form", ["plain", "torch-pruned"])
@pytest.mark.parametrize("name", ANALYSES)
def test_a_graph_built_before_an_analysis_runs_backward_after_it(model, train, name, form):
    if form == "torch-pruned":
        model = _pruned(model)
    x, y = train
    expected = torch.autograd.grad(F.cross_entropy(model(x), y), list(model.parameters()))
    loss = F.cross_entropy(model(x), y)  # the caller's graph, saving the weights as they are now
    ANALYSES[name](model, train)
    loss.backward()
    # exact: the weights the graph saved hold the same values again, so the same products run
    assert all(torch.equal(g, p.grad) for g, p in zip(expected, model.parameters()))


def test_after_a_failed_call_a_graph_built_before_it_is_refused_not_run(model, train):
    """A call that raises midway (here the caller's loss, in verify's sweep) may not have put
    every value back: autograd's check stays armed, so backward refuses rather than running
    on weights that may differ from those the graph saved."""
    calls = []

    def failing(output, target):
        calls.append(1)
        if len(calls) > 20:  # past the data checks: in the sweep, on pruned weights
            raise KeyboardInterrupt
        return F.cross_entropy(output, target)

    x, y = train
    loss = F.cross_entropy(model(x), y)
    with pytest.raises(KeyboardInterrupt):
        prunelimit.verify(model, train, loss=failing, method="exact", sweep=3)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
