"""An invalid value that a ``--config`` file set is refused naming its key and the file (the
job's command line holds no flag to fix), with the value; one typed keeps its flag; a library
caller reads keyword names. A fixed plan is named where it was set, and a ``--from`` report
without its schema key is refused saying so."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits-mlp.pt"


@pytest.mark.parametrize("line, said", [
    ("tolerance: -1", "tolerance in {} must be a positive finite number, got -1.0"),  # the options' own check
    ("max_hvps: 0", "max_hvps in {} must be at least 1, got 0"),  # the counts' check
    ("seed: -1", "seed in {} must be an integer in [0, 2**63), got -1"),  # the numbers' check
    ("hessian_samples: many", "Invalid value for hessian_samples in {}: got 'many', not a number; use auto, all"),
    ("epsilon: tiny", "Invalid value for epsilon in {}: got 'tiny', not a number; use auto or a number"),
    ("iterations: many", "Invalid value for iterations in {}:"),  # click's own conversion
])
def test_an_invalid_configured_value_names_its_key_and_file(cli, tmp_path, line, said):
    config = tmp_path / "ci.yaml"
    config.write_text(line + "\n", encoding="utf-8")
    result = cli("bounds", EXAMPLE, "--config", config, "--threads", "1", "--no-cache")
    assert result.exit_code == 2, result.stderr
    assert said.format(config) in result.stderr and "--" + line.split(":")[0].replace("_", "-") not in result.stderr
    assert "Traceback" not in result.stderr


def test_the_same_value_typed_keeps_its_flag(cli, tmp_path):
    config = tmp_path / "ci.yaml"
    config.write_text("tolerance: 0.5\n", encoding="utf-8")
    result = cli("bounds", EXAMPLE, "--config", config, "--tolerance", "-1")
    assert result.exit_code == 2 and "--tolerance must be a positive finite number" in result.stderr


@pytest.mark.parametrize("command, line, said", [
    ("nplh-fit", "region: [0.9, 0.1]", "region in {} (0.9, 0.1) must satisfy"),
    ("nplh-fit", "threads: 0", "threads in {} must be at least 1"),
    ("error-fit", "eps_np: 3", "eps_np in {} must lie in (0, 1]"),
    ("error-fit", "predict: 2", "predict in {} 2.0 outside (0, 1]"),  # it named no option at all
    ("error-fit", "target_error: -1", "target_error in {} -1.0 outside (0, 1)"),
])
def test_the_law_fits_name_a_configured_key(cli, tmp_path, command, line, said):
    """``law nplh-fit`` and ``law error-fit`` take no shared options: they named the flag."""
    points = tmp_path / "points.csv"
    points.write_text("density,gamma,error\n1,1,0.05\n0.5,2,0.06\n0.25,4,0.1\n0.1,8,0.2\n", encoding="utf-8")
    config = tmp_path / "law.yaml"
    config.write_text(line + "\n", encoding="utf-8")
    result = cli("law", command, points, "--config", config)
    assert result.exit_code == 2 and said.format(config) in result.stderr, result.stderr


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


@pytest.mark.parametrize("where, said", [
    ("config", "ratio in {} must be in [0, 1), got 2; give the removed fraction, e.g. 0.9"),
    ("flag", "--ratio must be in [0, 1), got 2; give the removed fraction, e.g. 0.9"),
])
def test_a_pruning_ratio_out_of_range_is_named_where_it_was_set(cli, tmp_path, where, said):
    """``ratio: 2`` in a ``prune`` config was refused as ``pruning ratio 2.0 is outside [0, 1)``,
    naming neither the key nor the file (every other configured value names them); the flag
    likewise named no flag. The value is shown as written, 2 not 2.0."""
    config = tmp_path / "ci.yaml"
    config.write_text("prune:\n  ratio: 2\n", encoding="utf-8")
    given = ["--config", config] if where == "config" else ["--ratio", "2"]
    result = cli("prune", EXAMPLE, *given, "-o", tmp_path / "p.pt", "--threads", "1", "--no-cache")
    assert result.exit_code == 2 and result.stderr.strip() == "prunelimit: error: " + said.format(config)
    assert not (tmp_path / "p.pt").exists()


def test_a_library_pruning_ratio_out_of_range_names_the_keyword():
    import torch

    import prunelimit
    from prunelimit.errors import UsageError

    with pytest.raises(UsageError, match=r"^ratio must be in \[0, 1\), got 1\.5; give the removed fraction"):
        prunelimit.prune(torch.nn.Sequential(torch.nn.Linear(4, 3)), 1.5)
