"""A fixed SLQ plan whose first run spans the space (the exact spectrum, ``± 0``) says so
as adaptive SLQ does: ``spectrum.stopped_by`` ``converged`` and the ``solver:`` line's "no
steps left (Krylov space exhausted: the exact spectrum)". It stated no stop (``null``), as
for a plan that ran as planned, on the 17-weight model: ``2 probes × 17 steps`` of 50 asked."""

from __future__ import annotations

import prunelimit
from prunelimit.report.console import STOPS, solver_text


def test_a_fixed_plan_that_spans_the_space_states_the_stop_adaptive_slq_states(mlp17) -> None:
    model, data = mlp17
    fixed = prunelimit.bounds(model, data, method="slq", iterations=50, runs=2).spectrum
    adaptive = prunelimit.bounds(model, data, method="slq").spectrum
    assert fixed.quadrature.exact and adaptive.quadrature.exact
    assert fixed.stopped_by == adaptive.stopped_by == "converged"
    assert solver_text(fixed).endswith(f", {STOPS['converged']}")
    assert fixed.to_json()["spectrum"]["stopped_by"] == "converged"


def test_a_fixed_plan_short_of_the_space_states_no_stop(mlp17) -> None:
    model, data = mlp17
    fixed = prunelimit.bounds(model, data, method="slq", iterations=8, runs=2).spectrum
    assert not fixed.quadrature.exact and fixed.stopped_by is None
