"""``magnitude_masks`` with the caller's magnitude path (``prune --ratio auto``: the prediction's)
gives the masks it gives by sorting the weights itself, where nothing is held and where the
held weights are the exact zeros alone (a model with a zero weight: ranked first on either order);
held masks that keep a zero or mask a non-zero weight order the weights otherwise, and the path
is not taken (sorted once here). Masks compared exactly: the same order, no numerics."""

from __future__ import annotations

import pytest
import torch

from prunelimit.models.params import ParamSelection, required_prunable
from prunelimit.pruning.magnitude import magnitude_masks
from prunelimit.theory.profile import LayerwiseProfile, MagnitudeProfile, path_profile
from tests.api.test_bounds_weights_sorted_once import _counting


def _model(zeros: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 12), torch.nn.ReLU(), torch.nn.Linear(12, 4))
    with torch.no_grad():
        model[0].weight[0, :5] = 0.0  # exact zeros, some where the smallest weights lie
        model[2].weight[1, 2] = -0.0 if zeros else 0.3
        if not zeros:
            model[0].weight[0, :5] = 0.01
    return model


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("held", ["none", "the zeros", "a mask keeping a zero", "a mask of a non-zero weight"])
def test_the_given_path_gives_the_sorted_masks(monkeypatch, scope, held):
    model = _model(zeros=held != "none")
    named = required_prunable(model, ParamSelection())
    masks = {"none": None, "the zeros": {name: p.detach() != 0 for name, p in named}}.get(held)
    if held == "a mask keeping a zero":
        masks = {name: p.detach() != 0 for name, p in named}
        masks["0.weight"][0, 0] = True
    elif held == "a mask of a non-zero weight":
        masks = {name: p.detach() != 0 for name, p in named}
        masks["0.weight"][3, 3] = False
    path = path_profile([p.detach() for _, p in named], scope)
    for ratio in (0.0, 0.02, 0.1, 0.5, 0.9):
        sorted_here = magnitude_masks(model, ratio, scope, held=masks)
        counts = _counting(monkeypatch, MagnitudeProfile), _counting(monkeypatch, LayerwiseProfile)
        given = magnitude_masks(model, ratio, scope, held=masks, path=path)
        monkeypatch.undo()
        assert given.keys() == sorted_here.keys()
        for name in given:
            assert torch.equal(given[name], sorted_here[name]), (name, ratio)
        taken = held in ("none", "the zeros")
        assert sum(map(len, counts)) == (0 if taken else 1 if scope == "global" else 1 + len(named)), counts
