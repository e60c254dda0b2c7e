"""A fixed plan is named as its reader set it (the --config file's keys, the flags, the
keywords), and a ``--from`` report without its schema key is refused saying so."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits-mlp.pt"


def test_a_fixed_plan_names_its_options_where_they_were_set():
    """The solver's reason and the tolerance warning's cause said ``--iterations/--runs``."""
    from prunelimit.api.options import CurvatureOptions, fixed_by
    from prunelimit.errors import library_call, options_configured

    options = CurvatureOptions(iterations=20, runs=2)
    assert fixed_by(options) == "--iterations 20, --runs 2"
    with options_configured("ci.yaml", ["iterations"]):
        assert fixed_by(options) == "iterations: 20 in ci.yaml, --runs 2"
    with library_call():
        assert fixed_by(CurvatureOptions(runs=2)) == "runs=2"


def test_a_from_report_without_schema_says_so_and_how_one_is_written():
    from prunelimit.api.verification import PredictedLimit
    from prunelimit.errors import InputError

    with pytest.raises(InputError, match=r"its schema key is missing.*`prunelimit bounds CHECKPOINT --json > "
                                         r"report\.json`"):
        PredictedLimit.from_report("r.json", {"ratio": 0.5})



@pytest.mark.parametrize("config, reason, cause", [
    ("method: paper\n", "(method: paper in {})", "(1 probe × 128 steps of method: paper in {})"),
    ("method: slq\niterations: 10\nruns: 2\n", "fixed plan (iterations: 10 in {0}, runs: 2 in {0})",
     "the plan was fixed (iterations: 10 in {0}, runs: 2 in {0})"),
])
def test_a_configured_fixed_plan_is_named_by_its_keys(cli, tmp_path, config, reason, cause):
    """The solver's reason and the tolerance warning's cause said ``--iterations/--runs`` and
    ``--method paper's`` where the --config file fixed the plan."""
    import json

    path = tmp_path / "ci.yaml"
    path.write_text(config + "max_samples: 300\n", encoding="utf-8")
    result = cli("bounds", EXAMPLE, "--config", path, "--threads", "1", "--no-cache", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert reason.format(path) in doc["spectrum"]["choice"]["reason"]
    assert any(cause.format(path) in w for w in doc["warnings"]), doc["warnings"]
    assert not any("--iterations" in w or "--method" in w for w in doc["warnings"])
