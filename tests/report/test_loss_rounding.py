"""A loss (and ε, L + ε, a loss change) is printed by one rule, four significant digits
(``rounding.loss_text``): ``info``, ``prune`` and ``hyperflux`` printed four decimals
(``2.3026``; a loss of 0.00018 read ``0.0002``) while ``bounds``, ``spectrum`` and ``verify``
printed four digits (``2.303``, ``0.00018``), and the not-at-a-minimum warning three
(``ε = 0.0173`` beside the line's ``ε = 0.01729``)."""

from __future__ import annotations

import json
import re

import pytest

from prunelimit.report.rounding import loss_text
from tests.conftest import LIBRARY_SAMPLES

RUN = ("--max-samples", str(LIBRARY_SAMPLES), "--threads", "1")
LOSS = re.compile(r"loss (\S+) ·")


@pytest.mark.parametrize("value, text", [
    (0.00018, "0.00018"), (0.1098, "0.1098"), (2.30258, "2.303"), (0.017294, "0.01729"), (-0.02363, "−0.02363"),
])
def test_a_loss_keeps_four_significant_digits_at_any_scale(value, text) -> None:
    assert loss_text(value) == text


def test_info_and_prune_print_the_json_loss_by_the_rule(cli, small_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the loss lines unwrapped
    info = cli("info", small_ckpt, "--data", "digits:test", *RUN)
    doc = json.loads(cli("info", small_ckpt, "--data", "digits:test", *RUN, "--json").stdout)
    assert info.exit_code == 0, info.stderr
    assert LOSS.findall(info.stdout) == [loss_text(doc["loss"])]
    args = ("prune", small_ckpt, "--ratio", "0.5", *RUN)
    shown = cli(*args, "-o", tmp_path / "p.pt", "--report", tmp_path / "r")
    assert shown.exit_code == 0, shown.stderr
    pruned = json.loads(cli(*args, "-o", tmp_path / "q.pt", "--json").stdout)
    # the same evaluation data and masks: the same losses, on the console and in the HTML report
    expected = [loss_text(pruned["before"]["loss"]), loss_text(pruned["after"]["loss"])]
    assert LOSS.findall(shown.stdout) == expected
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    for label, text in zip(("loss before pruning", "loss after pruning"), expected):
        assert re.search(rf"<td>{label}</td><td class=num>{re.escape(text)}</td>", page), label


def test_the_not_at_a_minimum_warning_states_epsilon_as_its_line() -> None:
    """The warning beside ``bounds``' line ``ε = 0.01729 (…)`` said ``more than ε = 0.0173``."""
    from types import SimpleNamespace

    from prunelimit.api.limit import _bounds_warnings
    from prunelimit.api.options import CurvatureOptions

    # a spectrum report with no other finding: only the first-order change is over ε
    spec = SimpleNamespace(notes=(), loss=0.1098, solver="exact", stopped_by=None, params_hessian=10, iterations=10,
                           lambda_max=1.0, lambda_min=0.0, gradient_norm=0.0412, negative_mass=None, choice=None)
    u = SimpleNamespace(steps_kind="exact", plus_minus=0.0)
    for change, said in ((0.023634, "changes the loss by +0.02363 to first order, more than ε = 0.01729"),
                         (-0.023634, "lowers the loss by 0.02363 to first order, a change larger than ε = 0.01729")):
        warns = _bounds_warnings(spec, None, 0.9, 1.0, None, 0.017294, CurvatureOptions(), change, u)
        assert [w for w in warns if said in w], warns
