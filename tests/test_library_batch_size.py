"""``batch_size`` cuts an (x, y) pair into batches; batches given (a DataLoader, a list of
pairs, a generator) are read as they are. A ``batch_size`` given where nothing is cut was
ignored in silence (a caller's ``bounds(model, loader, batch_size=64)`` ran on the loader's
batches): it is refused, naming the argument and the fix, as the command line refuses a
flag that has no effect. ``train``'s is the SGD batch, which re-cuts any data."""

from __future__ import annotations

import copy

import pytest
import torch

import prunelimit
from prunelimit.errors import UsageError

ANALYSES = {
    "info": lambda m, d, **k: prunelimit.info(m, d, **k),
    "spectrum": lambda m, d, **k: prunelimit.spectrum(m, d, method="exact", **k),
    "bounds": lambda m, d, **k: prunelimit.bounds(m, d, method="exact", **k),
    "verify": lambda m, d, **k: prunelimit.verify(m, d, method="exact", **k),
    "gate": lambda m, d, **k: prunelimit.gate(m, d, min_ratio=0.0, use="actual", **k),
    "prune": lambda m, d, **k: prunelimit.prune(m, "auto", d, method="exact", **k),
    "nplh": lambda m, d, **k: prunelimit.nplh(m, d, **k),
    "inputs_from": lambda m, d, **k: prunelimit.inputs_from(m, d, **k),
    "hyperflux": lambda m, d, **k: prunelimit.hyperflux(m, d, 0.5, pruning_epochs=3, regrowth_epochs=1, gate_lr=0.05,
                                                        **k),
    "imp": lambda m, d, **k: prunelimit.imp(m, d, levels=1, epochs_per_level=1, epochs_dense=0, **k),
}


def _loader(pair, size: int = 50):
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*pair), batch_size=size)


@pytest.mark.parametrize("form", ["loader", "list", "generator"])
@pytest.mark.parametrize("name", ANALYSES)
def test_a_batch_size_beside_batches_given_is_refused_naming_it(model, train, name, form):
    data = {"loader": lambda: _loader(train), "list": lambda: list(_loader(train)),
            "generator": lambda: iter(_loader(train))}[form]()
    with pytest.raises(UsageError, match=r"^batch_size=64 has no effect: data is given in batches, which are used as "
                                         r"they are; drop batch_size, or set the batch size where the batches are "
                                         r"made \(DataLoader\(\.\.\., batch_size=64\)\), or give data as an \(x, y\) "
                                         r"pair of tensors, which batch_size cuts$"):
        ANALYSES[name](copy.deepcopy(model), data, batch_size=64)


@pytest.mark.parametrize("name", ["info", "prune", "inputs_from"])
def test_a_batch_size_without_data_is_refused_naming_it(model, name):
    calls = {"info": lambda **k: prunelimit.info(model, **k),
             "prune": lambda **k: prunelimit.prune(model, 0.5, **k),
             "inputs_from": lambda **k: prunelimit.inputs_from(model, **k)}
    with pytest.raises(UsageError, match=r"^batch_size=64 has no effect: no data is given; drop it$"):
        calls[name](batch_size=64)


def test_the_default_cuts_a_pair_into_the_command_lines_batches(model, train):
    given = prunelimit.inputs_from(copy.deepcopy(model), train)  # 300 samples: 128, 128, 44
    assert [len(x) for x, _ in given.batches] == [128, 128, 44]
    assert [len(x) for x, _ in prunelimit.inputs_from(copy.deepcopy(model), train, batch_size=100).batches] \
        == [100, 100, 100]
    assert [len(x) for x, _ in prunelimit.inputs_from(copy.deepcopy(model), _loader(train)).batches] \
        == [50] * 6  # the loader's own batches


@pytest.mark.parametrize("name", ["verify", "hyperflux", "imp"])
def test_a_batch_size_that_cuts_the_eval_pair_is_taken(model, train, name):
    """Beside batches given as ``data``, ``batch_size`` still cuts an ``eval_data`` pair."""
    ANALYSES[name](copy.deepcopy(model), _loader(train), eval_data=train, batch_size=64)


def test_train_re_cuts_any_data_into_its_sgd_batch(model, train):
    """``train``'s ``batch_size`` is the SGD batch, whatever the form of ``data``: a loader's
    batches are joined and cut again, so it is taken beside one, and a pair and a loader of
    the same samples train alike."""
    from_loader = prunelimit.train(copy.deepcopy(model), _loader(train), epochs=1, batch_size=64)
    from_pair = prunelimit.train(copy.deepcopy(model), train, epochs=1, batch_size=64)
    assert from_loader.config.batch_size == 64 and from_loader.steps == 5
    assert from_loader.history == from_pair.history
    assert prunelimit.train(copy.deepcopy(model), _loader(train), epochs=1).config.batch_size == 128
