"""verify's HTML report lacked the console's line naming an off-grid loss limit: where the search
measured a ratio the prediction names between two grid points and it passed (a regression model
pruned to 80 % of 1,280 weights: ρ* 80.03 %, the grid's 80.1 % failing), the console said "the loss
limit is ρ* (80.03 %), measured within L + ε: …" and ``verify --report``'s page did not, though its
limit read 80.03 % off the grid. The page (and a result's ``_repr_html_``) now states that line
beside the warnings; a limit on the grid, or one measured alone, gets none."""

from __future__ import annotations

import html

import prunelimit
from prunelimit.report.html import render_html, summary_html
from tests.api.test_verify_limit_at_named_ratio import EPSILON, pruned_regression


def test_the_report_names_the_ratio_an_off_grid_limit_is() -> None:
    model, data = pruned_regression()
    report = prunelimit.verify(model, data, loss="mse", epsilon=EPSILON)
    note = report.named_limit_note
    assert note is not None and note.startswith("the loss limit is ρ* (80.03 %), measured within L + ε")
    page = render_html("verify", report.to_json(), {}, ["verify"])
    assert f"<li>{html.escape(note)}</li>" in page
    assert html.escape(note) in report._repr_html_()


def test_a_limit_on_the_grid_or_measured_alone_gets_no_such_line() -> None:
    body = {"actual": {"loss_ratio": 0.8}, "prediction": {"ratio": 0.8003}, "bounds": {"lower": 0.8000008},
            "warnings": []}
    assert "the loss limit is" not in summary_html("verify", body)
    alone = {"actual": {"loss_ratio": 0.8003}, "warnings": []}  # a gate's limit measured alone: no prediction
    assert "the loss limit is" not in summary_html("verify", alone)
