"""Options with a fixed set of values are typer choices built from the library's own tuples
(issue 18): ``--help`` lists the values, the parser refuses any other with exit 2 naming the
flag and the allowed values, and the values cannot drift from what the library accepts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest
from typer.testing import CliRunner

from prunelimit.api.options import METHODS
from prunelimit.api.pruning import PRUNE_FORMATS
from prunelimit.cli import app, common, laws, limit, pruning
from prunelimit.curvature.hvp import ENGINES
from prunelimit.curvature.lanczos import BASIS_CHOICES, BASIS_DTYPES
from prunelimit.sparse.bench import PATTERNS
from prunelimit.gate_rules import USES
from prunelimit.laws.imp import Rewind
from prunelimit.laws.nplh import Mode
from prunelimit.laws.saliency import METRICS
from prunelimit.pruning.lomp import PRESETS, SCHEDULES
from prunelimit.pruning.magnitude import PRUNE_SCOPES
from prunelimit.theory.limit import BOUND_MODES
from prunelimit.theory.profile import SCOPES
from prunelimit.theory.statdim import Negative

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "digits-mlp.pt")
OUT = "/nonexistent-prunelimit-out"  # never written: the parser refuses before any command runs

# (command words, flag, the CLI's choice, the library's tuple)
CHOICES = [
    (["bounds", EXAMPLE], "--method", common.Method, METHODS),
    (["bounds", EXAMPLE], "--bound-mode", common.BoundMode, BOUND_MODES),
    (["bounds", EXAMPLE], "--negative", common.Negative, get_args(Negative)),
    (["spectrum", EXAMPLE], "--hvp", common.Hvp, ENGINES),
    (["spectrum", EXAMPLE], "--basis-dtype", common.BasisDtype, BASIS_CHOICES),
    (["verify", EXAMPLE], "--scope", limit.Scope, SCOPES),
    (["bounds", EXAMPLE], "--scope", limit.Scope, SCOPES),
    (["gate", EXAMPLE], "--use", limit.Use, USES),
    (["prune", EXAMPLE, "-o", f"{OUT}/p.pt"], "--scope", pruning.PruneScope, PRUNE_SCOPES),
    (["prune", EXAMPLE, "-o", f"{OUT}/p.pt"], "--format", pruning.Format, tuple(PRUNE_FORMATS)),
    (["train", "-o", f"{OUT}/t.pt"], "--preset", pruning.Preset, tuple(PRESETS)),
    (["train", "-o", f"{OUT}/t.pt"], "--schedule", pruning.Schedule, SCHEDULES),
    (["export", EXAMPLE, "-o", f"{OUT}/m.safetensors"], "--pattern", pruning.Pattern, PATTERNS),
    (["law", "nplh", EXAMPLE], "--metric", laws.Metric, METRICS),
    (["law", "nplh", EXAMPLE], "--mode", laws.Mode, get_args(Mode)),
    (["imp", EXAMPLE, "-o", OUT], "--rewind", laws.Rewind, get_args(Rewind)),
]
IDS = [f"{words[0]}{flag}" for words, flag, _, _ in CHOICES]


def _invoke(*args: str, **env: str):
    return CliRunner().invoke(app, [str(a) for a in args], env=env or None)


@pytest.mark.parametrize("words,flag,choice,library", CHOICES, ids=IDS)
def test_choice_values_are_the_library_tuple(words, flag, choice, library):
    assert tuple(member.value for member in choice) == tuple(library)


def test_basis_choices_are_auto_and_the_storage_dtypes():
    assert BASIS_CHOICES == ("auto", *BASIS_DTYPES)


@pytest.mark.parametrize("words,flag,choice,library", CHOICES, ids=IDS)
def test_invalid_choice_exits_2_naming_the_flag_and_the_values(words, flag, choice, library):
    result = _invoke(*words, flag, "bogus")
    assert result.exit_code == 2, result.stderr
    first = result.stderr.splitlines()[0]
    # click's words right after the flag: no validator's prefix (typer 0.29 said "Value error, 'bogus' …")
    assert first.startswith(f"prunelimit: error: Invalid value for '{flag}': 'bogus' is not one of "), first
    assert "bogus" in first and all(repr(v) in first for v in library), first
    assert "Traceback" not in result.stderr and not Path(OUT).exists()


@pytest.mark.parametrize("words,flag,choice,library", CHOICES, ids=IDS)
def test_help_lists_the_values(words, flag, choice, library):
    command = words[:2] if words[0] == "law" else words[:1]
    result = _invoke(*command, "--help", COLUMNS="400")  # wide: rich does not wrap the list
    assert result.exit_code == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if f" {flag} " in line)
    assert "|".join(library) in line, line


def test_choices_are_case_sensitive():
    """The library takes ``exact``, not ``Exact``: the parser must refuse what it would."""
    result = _invoke("bounds", EXAMPLE, "--method", "Exact")
    assert result.exit_code == 2 and "Invalid value for '--method'" in result.stderr


def test_config_file_values_go_through_the_choices(tmp_path):
    """A choice from ``--config`` reaches the library as its plain value (the rule's name and
    the stored options show ``predicted`` and ``slq``); a bad one exits 2 naming the option by its key."""
    good = tmp_path / "good.yaml"
    good.write_text("method: slq\niterations: 4\nruns: 1\ngate:\n  use: predicted\n  min_ratio: 0.0\n")
    result = _invoke("gate", EXAMPLE, "--config", good, "--max-samples", "300", "--no-cache", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["rules"][0]["name"] == "predicted ratio >= 0.0" and doc["rules"][0]["use"] == "predicted"
    assert doc["bounds"]["method"] == "slq" and doc["bounds"]["options"]["method"] == "slq"

    bad = tmp_path / "bad.yaml"
    bad.write_text("method: fast\n")
    result = _invoke("bounds", EXAMPLE, "--config", bad)
    assert result.exit_code == 2, result.stderr
    first = result.stderr.splitlines()[0]
    # named by its key in the file that gave it: the command line holds no --method
    assert first.startswith(f"prunelimit: error: Invalid value for method in {bad}: 'fast' is not one of "), first
    assert "Traceback" not in result.stderr


def test_flag_overrides_a_config_choice(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("method: fast\n")  # never used: the flag wins
    result = _invoke("bounds", EXAMPLE, "--config", config, "--method", "slq", "--iterations", "4", "--runs", "1",
                     "--max-samples", "300", "--no-cache", "--json")
    assert result.exit_code == 0, result.stderr
