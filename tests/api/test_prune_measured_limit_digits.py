"""A pruning that read its prediction from a ``verify`` report advised that report's measured loss
limit as a ``--ratio`` with ``:g``'s six digits: a limit off the search's grid (a ratio the
prediction names, ρ* 0.8002915808305839 of a 1,280-weight regression model) read "at 0.800293", and on
a model of 10⁷ weights a named limit of 0.8123455501 (8,123,456 weights, ``ceil(ρN)``) would read
0.812346, four weights past the limit measured. The advice now states every digit the limit holds,
as the report's JSON does; a grid limit reads as before (0.899)."""

from __future__ import annotations

import json
import math


from prunelimit.api.pruning import ReadLimit, _pruned_less, unchecked_prediction
from prunelimit.models.evaluate import Evaluation
from prunelimit.pruning.actual import on_grid
from prunelimit.theory.regime import measured_advice
from tests.api.test_verify_limit_at_named_ratio import EPSILON, pruned_regression_checkpoint

WEIGHTS = 10**7


def _advised_ratio(text: str, before: str) -> float:
    return float(text.split(before, 1)[1].split(")")[0].split(";")[0].split(",")[0].strip())


def test_the_advice_prunes_the_weights_the_limit_measured() -> None:
    limit = ReadLimit(0.8123455501, None, None, "v.json")
    (told,) = _pruned_less([f"the prediction overshoots; {measured_advice()}"], None, limit)
    advised = _advised_ratio(told, "--ratio ")
    assert math.ceil(advised * WEIGHTS) == math.ceil(limit.loss_ratio * WEIGHTS) == 8_123_456  # before: 8,123,460
    (unchecked,) = unchecked_prediction(0.5, Evaluation(0.1, None, 1280), Evaluation(0.2, None, 1280), limit)
    assert unchecked.endswith("v.json measured the ratio whose loss stays within L + ε at 0.8123455501")
    on_grid = ReadLimit(0.899, None, None, "v.json")
    assert "(--ratio 0.899)" in _pruned_less([measured_advice()], None, on_grid)[0]


def test_prune_from_a_verify_report_states_its_off_grid_limit(cli, tmp_path) -> None:
    ckpt = pruned_regression_checkpoint(tmp_path)
    common = (ckpt, "--threads", "1", "--no-cache", "--quiet")
    verified = cli("verify", *common, "--epsilon", EPSILON, "--json")
    assert verified.exit_code == 0, verified.stderr
    (tmp_path / "v.json").write_text(verified.stdout)
    limit = json.loads(verified.stdout)["actual"]["loss_ratio"]
    assert not on_grid(limit) and f"{limit:g}" != repr(limit)  # ρ*, off the grid: 0.8002915808305839
    pruned = cli("prune", *common, "--from", tmp_path / "v.json", "--ratio", "auto", "--output", tmp_path / "p.pt",
                 "--json")
    assert pruned.exit_code == 0, pruned.stderr
    (note,) = [w for w in json.loads(pruned.stdout)["warnings"] if "measured the ratio whose loss" in w]
    assert note.endswith(f"at {limit!r}")  # before: at 0.800293
