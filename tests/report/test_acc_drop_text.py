"""``--acc-drop`` is stated as typed, and an accuracy drop that exceeds it apart from it: the
HTML summary rounded the allowance to two decimals (``--acc-drop 0.125`` read ``0.12 pt``, below
the ``0.125`` the console's lines and the check use), and the warning of a drop just past it read
"lost 0.50 accuracy points, more than --acc-drop 0.5"."""

from __future__ import annotations

import re
from types import SimpleNamespace

from prunelimit.report.console import acc_drop_warning
from prunelimit.report.html import render_html


def test_the_html_summary_states_the_allowance_as_typed() -> None:
    body = {"before": {"loss": 0.11, "accuracy": 0.97}, "after": {"loss": 0.2, "accuracy": 0.9686},
            "acc_drop": 0.125, "acc_drop_exceeded": True}
    page = render_html("prune", body, {}, ["p"])
    assert re.search(r"<td>accuracy loss allowed \(--acc-drop\)</td><td class=num>0\.125 pt</td>", page)


def test_a_drop_just_past_the_allowance_is_shown_apart_from_it() -> None:
    rep = SimpleNamespace(acc_drop_exceeded=True, accuracy_drop=0.5004, acc_drop=0.5, ratio_source="auto (bounds)",
                          requested=0.9, achieved=0.9, uncertainty=None, scope="global", measured=None,
                          finetuned=None, lower=None)
    said = acc_drop_warning(rep)
    lost = float(re.search(r"that lost (\S+) accuracy points, more than --acc-drop 0\.5;", said)[1])
    assert lost > 0.5  # the text itself shows the drop past the allowance
