"""A ``GateReport`` shown in a notebook (``_repr_html_``) states what its verdict stood on as
the gate's console lines do: ρ* with its ±, the solver choice, what stopped the spectrum and
its products, and a prediction read from elsewhere. Before, the summary gave the verdict and
the timing only: ρ*, its ± and the solver live in the gate's nested ``bounds`` document,
which the summary never looked into."""

from __future__ import annotations

import prunelimit
from prunelimit.report.console import read_from_text, uncertainty_text
from prunelimit.report.rounding import percent
from tests.conftest import summary_rows


def test_a_gates_html_states_rho_its_plus_minus_the_solver_and_the_stop(tiny_model, train) -> None:
    verdict = prunelimit.gate(tiny_model, train, min_ratio=0.1, use="predicted", method="slq", max_hvps=40)
    rows = summary_rows(verdict._repr_html_())
    spectrum = verdict.spectrum
    assert rows["gate passed"] == "yes"
    assert rows["stated uncertainty of ρ*"] == uncertainty_text(verdict.estimate.uncertainty.to_json())
    assert rows["predicted limit ρ*"].startswith(f"{percent(verdict.estimate.ratio)} removed")
    assert rows["solver choice"] == spectrum.choice.reason
    assert spectrum.stopped_by == "max-hvps" and rows["what stopped the spectrum"] == "stopped by max_hvps="
    assert rows["curvature products (HVPs)"] == f"{spectrum.hvps:,}"


def test_a_gate_on_a_prediction_in_hand_says_where_it_came_from(tiny_model, train) -> None:
    predicted = prunelimit.bounds(tiny_model, train, method="slq", max_hvps=40)
    verdict = prunelimit.gate(tiny_model, train, min_ratio=0.1, prediction_from=predicted)
    rows = summary_rows(verdict._repr_html_())
    assert f"prediction read from {rows['prediction read from']}" == read_from_text(verdict.prediction_from)
    assert rows["curvature products (HVPs)"] == "0"  # this gate's own work: none


def test_a_result_in_a_notebook_names_the_limit_that_stopped_it_as_the_call_takes_it(tiny_model, train) -> None:
    """Its stop read ``stopped by --max-hvps``, a flag, beside a reason worded for the library
    caller (``method='slq'``) and a tolerance warning naming ``max_hvps=40``."""
    for result in (prunelimit.spectrum(tiny_model, train, method="slq", max_hvps=40),
                   prunelimit.bounds(tiny_model, train, method="slq", max_hvps=40)):
        rows = summary_rows(result._repr_html_())
        assert rows["what stopped the spectrum"] == "stopped by max_hvps=", rows
        assert "method='slq'" in rows["solver choice"]
