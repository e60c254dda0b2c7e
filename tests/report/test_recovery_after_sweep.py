"""A saved verify report swept at every grid ratio (``actual.curve`` of 1,000 points) is told
as verify told it: its HTML page and a gate that reads its measured limit said "`verify --sweep
1000` measures every grid ratio" of a report made by that sweep."""

from __future__ import annotations

from prunelimit.api.gating import _measured_report
from prunelimit.report.html import render_html

SWEPT = "its curve is not monotone; the sweep measured every grid ratio, so the limit is its first failure"


def _actual(points: int) -> dict:
    curve = [{"ratio": i / 1000, "loss": 0.1, "accuracy": 0.9} for i in range(points)]
    return {"loss_ratio": 0.688, "loss_recovers": 0.696, "accuracy_ratio": 0.684, "accuracy_recovers": 0.686,
            "dense_loss": 0.15, "curve": curve}


def test_the_page_and_a_gate_say_a_full_sweep_left_nothing_unseen() -> None:
    page = render_html("verify", {"actual": _actual(1000), "warnings": []}, {}, ["verify"])
    assert page.count(SWEPT) == 2 and "--sweep 1000` measures" not in page
    (note,) = _measured_report("v.json", {"actual": _actual(1000), "epsilon": 0.03})["warnings"]
    assert note.endswith(SWEPT)


def test_a_report_without_a_full_sweep_is_still_pointed_to_it() -> None:
    (note,) = _measured_report("v.json", {"actual": _actual(50), "epsilon": 0.03})["warnings"]
    assert note.endswith("`verify --sweep 1000` measures every grid ratio")
