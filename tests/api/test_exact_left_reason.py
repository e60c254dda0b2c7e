"""The reason the default gives when its exact columns are left for SLQ part-way: it said
"the exact spectrum ran over its time budget" where the columns' watch left them after 5 %
of the budget, on its prediction that they would run over 1.5× it (nothing had run over:
384 of 910 columns, a fraction of the budget). It now says where they were left and why."""

from __future__ import annotations

import itertools
import json

SMALL = ("--max-samples", "300", "--no-cache", "--threads", "1")


def test_columns_left_on_their_rate_say_so_not_that_they_ran_over(cli, own_ckpt, monkeypatch) -> None:
    from prunelimit.api import curvature
    from prunelimit.curvature import exact

    monkeypatch.setattr(curvature, "_seconds_per_column", lambda op: 1e-6)  # the timing chooses exact
    monkeypatch.setattr(exact, "eigenvalue_seconds", lambda dim: 85.0)  # a tie: 85 s within 1.5 × 60 s
    # every clock reading 1/128 s on: a block of 128 columns at 1/128 s, 910 of them at 7.1 s + 85 s > 90 s
    monkeypatch.setattr(curvature, "_clock", lambda device: itertools.count(0.0, 2.0**-7).__next__)
    result = cli("spectrum", own_ckpt, "--tolerance", "0.5", "--json", *SMALL)
    assert result.exit_code == 0, result.stderr
    reason = json.loads(result.stdout)["spectrum"]["choice"]["reason"]
    assert "ran over" not in reason
    assert "the exact spectrum was left after 384 of 910 columns, on course to run over its time budget" in reason
