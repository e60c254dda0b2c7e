"""A graph the caller built before an analysis (``loss = crit(model(x), y)`` in one notebook
cell, ``prunelimit.bounds(model, data)`` in the next, ``loss.backward()`` after) still runs
backward afterwards, with the gradients it had: the analyses write pruned weights into the
model and the values back, and autograd's version counters, left raised, refused the graph
('one of the variables needed for gradient computation has been modified by an inplace
operation') on weights as they were. With them, the rest of what docs/library.md says an analysis
leaves as it found it, on a BatchNorm and dropout model in the middle of training."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import prunelimit

ANALYSES = {
    "info": lambda m, d: prunelimit.info(m, d),
    "spectrum": lambda m, d: prunelimit.spectrum(m, d, method="exact"),
    "bounds": lambda m, d: prunelimit.bounds(m, d, method="exact"),
    "verify": lambda m, d: prunelimit.verify(m, d, method="exact", sweep=3),
    "verify_refit": lambda m, d: prunelimit.verify(m, d, method="exact", refit=True, finetune_epochs=1),
    "gate": lambda m, d: prunelimit.gate(m, d, min_ratio=0.0, use="actual"),
    "prune": lambda m, d: prunelimit.prune(m, "auto", d, method="exact"),
    "nplh": lambda m, d: prunelimit.nplh(m, d, metric="gradient"),
    "nplh_iterative": lambda m, d: prunelimit.nplh(m, d, mode="iterative"),
}


class _SmallCnn(torch.nn.Module):
    """Convolution, BatchNorm and dropout on the 8×8 digits: running statistics a forward in
    train mode would update, and dropout that would draw from torch's generator."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.norm = torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.BatchNorm2d(2)
        self.drop, self.out = torch.nn.Dropout(0.3), torch.nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm(self.conv(x.view(-1, 1, 8, 8))))
        return self.out(self.drop(F.max_pool2d(h, 2).flatten(1)))


def _model_state(model: torch.nn.Module) -> list:
    return [*((name, m.training) for name, m in model.named_modules()),
            *((name, p.requires_grad, p.grad, p._version) for name, p in model.named_parameters()),
            *((name, t._version) for name, t in model.named_buffers()),
            *((name, t.detach().clone()) for name, t in model.state_dict().items())]


def _session_state() -> list:
    return [torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate(), torch.get_num_threads(),
            torch.is_grad_enabled(), torch.are_deterministic_algorithms_enabled(), torch.get_default_dtype()]


def _equal(a: object, b: object) -> bool:
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (torch.Tensor, np.ndarray)):
        return type(a) is type(b) and a.shape == b.shape and bool((a == b).all())  # bit for bit: no tolerance
    return a == b


@pytest.mark.parametrize("name", ANALYSES)
def test_an_analysis_leaves_a_training_cnn_and_the_session_as_it_found_them(train, name):
    """The paragraph of docs/library.md on what a call leaves as it found it, on a model in
    the middle of training (train mode, gradients accumulated) with BatchNorm and dropout."""
    torch.manual_seed(0)
    model = _SmallCnn().train()
    x, y = train
    F.cross_entropy(model(x), y).backward()
    grads = [p.grad for p in model.parameters()]
    np.random.seed(1)
    random.seed(2)
    model_before, session_before = _model_state(model), _session_state()
    ANALYSES[name](model, train)
    assert all(p.grad is g for p, g in zip(model.parameters(), grads))  # the same tensors, not copies
    assert _equal(_model_state(model), model_before)
    assert _equal(_session_state(), session_before)


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
