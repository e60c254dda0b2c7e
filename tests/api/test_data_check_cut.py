"""Under a --time-budget that stopped the runs, the data check stops at a part where the
next one, at the last one's seconds, would end past the deadline (3 parts at least,
``FEWEST_CHECKED_PARTS``), and the answer says so: its data part comes from the parts that
ran, with fewer degrees of freedom. The plan's price of the check, timed on 3 products before the runs, erred
by half either way on a loaded 2-core machine (a 1,898-weight CNN's priced 12.7 s took
19.9 s, its spectrum 37 s of a 30 s budget). Simulated clocks: no test here measures time."""

from __future__ import annotations

import types

import pytest
import torch

import prunelimit
from prunelimit import api
from prunelimit.api import curvature, spectrum_notes

from tests.conftest import CLOCKED_DIM, ClockedOperator

PARTS, DIM = 4, CLOCKED_DIM


@pytest.mark.parametrize("deadline, ran", [(100.0, 4), (24.0, 4), (20.0, 3), (1.0, 3)])
def test_the_check_stops_where_the_next_part_would_end_past_the_deadline(monkeypatch, deadline, ran) -> None:
    """Each part takes its 6 products at 1 s each (a part's Krylov space is the whole 6-dim
    space): after 3 parts (18 s) a fourth ends at 24 s. A deadline at 24 s runs all 4, at
    20 s 3, and one already past still the fewest, 3; 100 s all 4. Before, every part ran,
    whatever the clock read."""
    now = [0.0]
    monkeypatch.setattr(curvature, "hessian_operator", lambda *a, **k: ClockedOperator(now))
    quad = types.SimpleNamespace(steps=DIM, hvps=0)
    spectra, spent = curvature._part_spectra(
        None, api.CurvatureOptions(method="slq"), types.SimpleNamespace(parts=[[]] * PARTS), quad, torch.float64,
        until=curvature._next_past(lambda: now[0], deadline))
    assert (len(spectra), spent) == (ran, ran * DIM)


def test_a_check_cut_by_the_time_budget_states_its_parts(monkeypatch, small_model, train) -> None:
    """Where the time budget stopped the runs and the check's next part would end past it
    (``_next_past`` stood in for: always past), the answer's data part comes from the 3
    parts that ran (``data_parts``, its degrees of freedom), their spread a part's in a mean
    of the subset's 4 (``left_out_sd``'s ``parts``), and a note says so; before, all 4 ran past
    the budget."""
    slq_spectrum = curvature._slq_spectrum

    def stopped_by_the_clock(*args, **kwargs):
        quad, _, trail = slq_spectrum(*args, **kwargs)
        return quad, "time-budget", trail

    monkeypatch.setattr(curvature, "_slq_spectrum", stopped_by_the_clock)
    monkeypatch.setattr(curvature, "_next_past", lambda clock, deadline, after=0: lambda: True)
    rep = prunelimit.spectrum(small_model, train, method="slq", hessian_samples=100, time_budget=3600.0)
    from prunelimit.theory.uncertainty import left_out_sd

    data = rep.curvature_data
    assert data.data_parts == rep.uncertainty.data_parts == 3
    assert rep.uncertainty.data == left_out_sd(data.part_ratios, data.used, data.total, 4)
    assert any("ran on 3 of the subset's 4 parts" in note for note in rep.notes)


def test_the_whole_datas_measuring_is_priced_from_the_data_checks_timing(monkeypatch, small_model, train) -> None:
    """The measuring of the products' error again over all the subset builds two operators
    of its own and takes a product on each, recomputing its graphs; priced at the runs'
    seconds a product (1 + cost of them) it fell 4-5× short on CPU convolution nets. Where
    the data check timed a part's recomputing operator (``fixed``: its builds, ``step``: a
    step on each part, here 1 s and 2 s), the plan holds (1 + cost) × (fixed + step)
    seconds for it (cost 3: 12 s) and no products' price beside them."""
    from prunelimit.curvature import adaptive

    plans = []
    adaptive_slq = adaptive.adaptive_slq
    monkeypatch.setattr(adaptive, "adaptive_slq", lambda op, plan, *a, **k: plans.append(plan)
                        or adaptive_slq(op, plan, *a, **k))
    monkeypatch.setattr(curvature, "_product_error", lambda *a, **k: (1e-3, 2, 128, 3.0))
    monkeypatch.setattr(curvature, "_data_check_seconds", lambda *a, **k: (1.0, 2.0, 0.0, 3))
    prunelimit.spectrum(small_model, train, method="slq", hessian_samples=200, time_budget=3600.0)
    assert (plans[0].measuring, plans[0].measuring_seconds) == (0.0, 12.0)


def test_an_overrun_by_the_data_check_names_it() -> None:
    """A spectrum past its budget because the data check took longer than the plan priced
    it says so, with both seconds; before, only that 'the work that must follow the Lanczos
    runs took longer than predicted, or even their first step and that work do not fit'.
    A check within its price keeps that wording."""
    options = api.CurvatureOptions(method="slq", time_budget=30.0)
    slow = spectrum_notes.over_budget_note(options, 1_000, 35.6, check=(14.0, 8.3))
    assert "the data check on the subset's parts took 14.0 s where 8.3 s was priced" in slow
    within = spectrum_notes.over_budget_note(options, 1_000, 35.6, check=(8.0, 8.3))
    assert "the work that must follow the Lanczos runs took longer than predicted" in within


def test_the_spectrum_passes_the_data_checks_seconds_and_price(monkeypatch, small_model, train) -> None:
    """Under a time budget the spectrum hands the note the check's seconds and its price."""
    checks = []
    note = curvature.over_budget_note
    monkeypatch.setattr(curvature, "over_budget_note",
                        lambda *a, **k: checks.append(a[-1]) or note(*a, **k))
    prunelimit.spectrum(small_model, train, method="slq", hessian_samples=100, time_budget=3600.0)
    took, priced = checks[0]
    assert took > 0 and priced > 0
