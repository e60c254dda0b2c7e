"""``masks=`` as a notebook may hold them: a dict of NumPy arrays (``mask.numpy()``, or masks
saved with ``np.savez``) was refused as "got dict", the one form that was right, and a
``Pruning`` given whole as "got Pruning" with no word of its ``masks``. Each refusal names the
value at fault and the call that gives tensors."""

from __future__ import annotations

import copy

import pytest

import prunelimit
from prunelimit.errors import UsageError


@pytest.mark.parametrize("call", ["train", "inputs_from"])
def test_masks_of_numpy_arrays_are_told_to_become_tensors(model, train, call):
    pruning = prunelimit.prune(model, 0.5)
    arrays = {name: mask.numpy() for name, mask in pruning.masks.items()}
    kwargs = {"epochs": 1} if call == "train" else {}
    with pytest.raises(UsageError, match=r"^masks must map parameter names to bool tensors \(True = kept\), but "
                                         r"masks\['0\.weight'\] is ndarray \(bool, shape \(12, 64\)\); give tensors, "
                                         r"\{name: torch\.from_numpy\(mask\) for name, mask in masks\.items\(\)\}$"):
        getattr(prunelimit, call)(copy.deepcopy(model), train, masks=arrays, **kwargs)


def test_a_pruning_given_as_masks_is_told_to_give_its_masks(model, train):
    pruning = prunelimit.prune(model, 0.5)
    with pytest.raises(UsageError, match=r"^masks must map parameter names to bool tensors \(True = kept\), got "
                                         r"Pruning; give its masks, masks=pruning\.masks$"):
        prunelimit.train(copy.deepcopy(model), train, epochs=1, masks=pruning)
