"""The records a result holds read at a glance too (``result.bounds.profile``,
``result.actual``, ``result.bounds.spectrum.quadrature`` typed at a prompt): an array or a
tensor is written as its kind and shape, a long list as its length. The dataclass reprs wrote
every value: 20,788 characters for the magnitude profile of this 888-weight model, 3,210 for
the quadrature and 2,320 for the measured limit's probes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import prunelimit
from prunelimit.report.notebook import BRIEF_ITEMS, brief

REPR_MOST = 700  # characters: a few lines at a prompt, whatever the model's size


def test_the_records_a_verify_result_holds_have_short_reprs(tiny_model, train) -> None:
    result = prunelimit.verify(tiny_model, train, method="slq", max_hvps=40)
    profile = result.bounds.profile
    assert repr(profile) == (f"MagnitudeProfile(sizes={profile.sizes!r}, shapes={profile.shapes!r}, "
                             f"order=<ndarray {profile.order.size}>, cum_sq=<ndarray {profile.cum_sq.size}>)")
    assert f"probes=<{len(result.actual.probes)} items>" in repr(result.actual)
    for record in (profile, result.actual, result.prediction, result.bounds.prediction, result.bounds.spectrum.quadrature):
        text = repr(record)
        assert len(text) < REPR_MOST and "array(" not in text and "\n" not in text, text


def test_a_brief_repr_shortens_only_what_is_long() -> None:
    @brief
    @dataclass(frozen=True)
    class Record:
        matrix: torch.Tensor
        scalar: np.float64
        few: tuple
        many: list

    shown = repr(Record(torch.zeros(3, 4), np.float64(0.5), (1, 2), list(range(BRIEF_ITEMS + 1))))
    assert shown == f"Record(matrix=<Tensor 3×4>, scalar={np.float64(0.5)!r}, few=(1, 2), many=<{BRIEF_ITEMS + 1} items>)"


def test_a_brief_repr_writes_a_module_as_its_class_and_a_long_dict_as_its_size() -> None:
    @brief
    @dataclass(frozen=True)
    class Record:
        model: torch.nn.Module
        few: dict
        many: dict

    shown = repr(Record(torch.nn.Sequential(torch.nn.Linear(2, 2)), {"a": 1}, {"w": torch.zeros(30, 30)}))
    assert shown == "Record(model=<Sequential>, few={'a': 1}, many=<1 entries>)"


def test_inputs_from_at_a_prompt_is_one_short_line(tiny_model, train) -> None:
    """``prunelimit.inputs_from(model, data)`` typed at a prompt wrote every batch's tensors:
    10,173 characters for the 1,437 bundled digits, growing with the data (a loader's hundreds
    of batches), and the model's repr, a line a submodule. Now it is one line whatever the data,
    also for a model given its masks."""
    x, y = train
    many = prunelimit.inputs_from(tiny_model, (x.repeat(20, 1), y.repeat(20)))
    masks = {"0.weight": tiny_model[0].weight != 0, "2.weight": torch.rand(10, 12) > 0.5}
    masked = prunelimit.inputs_from(tiny_model, (x, y), masks=masks)
    for inputs in (many, masked):
        text = repr(inputs)
        assert len(text) < REPR_MOST and "\n" not in text and "tensor(" not in text, text
        assert "model=<Sequential>" in text
    assert f"batches=<{len(many.batches)} items>" in repr(many)
    assert "masks=<2 entries>" in repr(masked)


def test_the_records_that_grow_with_the_work_have_short_reprs(tiny_model, train) -> None:
    """``result.refit`` wrote every fine-tuned probe (2,088 characters for 25), ``result.layers``
    every layer's share in full (1,264 for two layers, growing with the model), and a
    ``LawPoints`` every density and γ (2,076 for nplh's 39 points)."""
    from prunelimit.laws.points import LawPoints

    refit = prunelimit.verify(tiny_model, train, method="exact", refit=True, finetune_epochs=1).refit
    layers = prunelimit.bounds(tiny_model, train, method="exact", per_layer=True).layers
    points = LawPoints(density=tuple(np.geomspace(1.0, 0.01, 39)), gamma=tuple(np.geomspace(1e-4, 1.0, 39)))
    assert f"points=<{len(refit.points)} items>" in repr(refit)
    assert f"layers=<{len(layers.layers)} items>" in repr(layers)
    assert repr(points).startswith("LawPoints(density=<39 items>, gamma=<39 items>")
    for record in (refit, layers, points):
        text = repr(record)
        assert len(text) < REPR_MOST and "\n" not in text, text
