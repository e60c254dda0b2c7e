"""A baseline (or ``--from`` report) that records its data fingerprint but not its loss
(``data.loss``, written by a prunelimit older than it) was compared as if its loss were
this run's, with no word: one stored under ``--loss mse`` passed a ``--loss ce`` gate
silently. Such a report is now compared with the warning of an older report, naming its loss."""

from __future__ import annotations

from prunelimit.baseline import Provenance, check_baselines, check_same_problem

CURRENT = Provenance(method="default", hessian=2410, prunable=2368, fingerprint="f" * 64, options={},
                     weights="w" * 64, loss="ce", layout="l" * 64)
OLDER = {"method": "default", "params": {"hessian": 2410, "prunable": 2368},
         "data": {"fingerprint": "f" * 64}, "weights": {"fingerprint": "w" * 64, "layout": "l" * 64}}


def test_a_baseline_without_its_loss_is_compared_with_a_warning_naming_it():
    notes = check_baselines([("old.json", OLDER)], CURRENT)
    assert any("baseline old.json does not record its loss (an older report)" in n for n in notes), notes


def test_a_from_report_without_its_loss_is_read_with_a_warning_naming_it():
    notes = check_same_problem("old.json", OLDER, CURRENT)
    assert any("old.json does not record its loss (an older report)" in n for n in notes), notes


def test_a_report_recording_its_loss_draws_no_such_warning():
    recorded = {**OLDER, "data": {**OLDER["data"], "loss": "ce"}}
    assert not any("does not record" in n for n in check_baselines([("b.json", recorded)], CURRENT))
