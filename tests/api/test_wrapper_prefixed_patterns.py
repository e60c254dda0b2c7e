"""``include``/``exclude`` patterns written with a wrapper's module names: a model given as
``nn.DataParallel(model)`` lists its modules as ``module.0``, ``module.2``, and
``prunelimit.bounds(dp, data, exclude=('module.0',))`` was refused ('exclude 'module.0' matches
no module in the model; … e.g. '0', '2''), though ``masks=`` keyed so are read without the
prefix. Such a pattern is now read as the module's name where only that form names a module,
and gives the numbers of the unprefixed pattern."""

from __future__ import annotations

from torch import nn

import prunelimit


def test_a_prefixed_exclude_is_the_modules_own(model, train):
    wrapped = nn.DataParallel(model)
    plain = prunelimit.bounds(wrapped, train, method="exact", exclude=("0",))
    for exclude in (("module.0",), ["module.0"]):
        prefixed = prunelimit.bounds(wrapped, train, method="exact", exclude=exclude)
        assert (prefixed.ratio, prefixed.params_prunable) == (plain.ratio, plain.params_prunable)
    assert sorted(prunelimit.prune(wrapped, 0.5, include=("module.*",), exclude=("module.0",)).masks) == ["2.weight"]


def test_a_module_named_module_keeps_its_name():
    inner = nn.Sequential()
    inner.add_module("module", nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 3)))
    inner.add_module("0", nn.Linear(3, 2))
    # 'module.0' names the inner module's own 'module.0': read as given, not as its '0'
    pruning = prunelimit.prune(nn.DataParallel(inner), 0.5, exclude=("module.0",))
    assert sorted(pruning.masks) == ["0.weight", "module.1.weight"]
