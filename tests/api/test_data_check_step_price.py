"""The data check's price per step is a Lanczos step's on a part, not a bare product's: on
a clock where a product takes 1 s and a step's own work beside it (the recurrence, the
reorthogonalisation, the block's copies) 2 s more, a step costs 3 s on each part. Priced
at its products (1 s a part) the check ran past a small --time-budget. Simulated clock: no
test here measures time."""

from __future__ import annotations

import importlib
import types

import torch

from prunelimit import api
from prunelimit.api import curvature

lanczos = importlib.import_module("prunelimit.curvature.lanczos")  # the package's name is the function's

from tests.conftest import CLOCKED_DIM, ClockedOperator

PARTS, DIM = 4, CLOCKED_DIM


def test_a_step_is_priced_with_its_own_work_beside_its_product(monkeypatch) -> None:
    now = [0.0]
    monkeypatch.setattr(curvature, "hessian_operator", lambda *a, **k: ClockedOperator(now))
    advance = lanczos._Run.advance

    def slow_step(self, w):
        now[0] += 2.0  # the step's own work, beside its product
        advance(self, w)

    monkeypatch.setattr(lanczos._Run, "advance", slow_step)
    monkeypatch.setattr(lanczos, "reorthogonalisation_seconds", lambda dim, storage, clock, max_bytes: 0.0)
    subsample = types.SimpleNamespace(parts=[[]] * PARTS)
    fixed, step, row, spent = curvature._data_check_seconds(
        None, api.CurvatureOptions(method="slq", time_budget=100.0), subsample, torch.float64, lambda: now[0])
    assert (fixed, step, row, spent) == (0.0, PARTS * 3.0, 0.0, curvature.DATA_CHECK_TIMING)


def test_the_row_timing_is_held_to_the_basis_memory(monkeypatch) -> None:
    """The reorthogonalisation's timing is given the host memory the bases may hold
    (``--basis-memory 1``: 1 MiB), so its basis stays within it; before, it was not told."""
    now, asked = [0.0], []
    monkeypatch.setattr(curvature, "hessian_operator", lambda *a, **k: ClockedOperator(now))
    monkeypatch.setattr(lanczos, "reorthogonalisation_seconds",
                        lambda dim, storage, clock, max_bytes: asked.append(max_bytes) or 0.0)
    subsample = types.SimpleNamespace(parts=[[]] * PARTS)
    curvature._data_check_seconds(None, api.CurvatureOptions(method="slq", time_budget=100.0, basis_memory_mb=1),
                                  subsample, torch.float64, lambda: now[0])
    assert asked == [2**20]
