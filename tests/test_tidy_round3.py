"""Tidy-ups: a signal while the options are parsed, the error class of option checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from prunelimit.api.pruning import prune_outputs
from prunelimit.cli import common
from prunelimit.errors import OptionError, UsageError, library_call
from prunelimit.sparse.bench import check_pattern
from prunelimit.gate_rules import rules_from_options
from prunelimit.io.atomic import Terminated
from prunelimit.pruning.magnitude import MagnitudeOrder, check_prune_scope, prune_model

EXAMPLE_CKPT = Path(__file__).resolve().parents[1] / "examples" / "digits-mlp.pt"


@pytest.mark.parametrize("signal_as, code, message", [(KeyboardInterrupt, 130, "prunelimit: interrupted\n"),
                                                      (Terminated, 143, "prunelimit: terminated (SIGTERM)\n")],
                         ids=["SIGINT", "SIGTERM"])
def test_signal_while_options_are_parsed_exits_with_its_code_and_says_so(cli, tmp_path, monkeypatch,
                                                                         signal_as, code, message):
    """The signal handlers raise these while typer reads ``--config``, before any command's own
    error handling: typer alone would end silently with 130, even for SIGTERM."""

    def signal_arrives(path):
        raise signal_as()

    monkeypatch.setattr(common, "read_config", signal_arrives)
    config = tmp_path / "c.yaml"
    config.write_text("epochs: 1\n")
    out = tmp_path / "t.pt"
    result = cli("train", "--config", config, "--model", "mlp:64,8,10", "--data", "digits:train", "-o", out)
    assert (result.exit_code, result.stderr, result.stdout) == (code, message, "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


# --------------------------------------------------------------------------- option checks: OptionError


def test_unknown_scope_pattern_format_and_use_name_the_option():
    """An invalid value of one option is an ``OptionError`` naming the library's parameter
    (the command line puts its flag there; typer's choices catch these before, exit 2)."""
    with pytest.raises(OptionError, match="^scope 'row': use global, layer, 2:4$") as caught:
        prune_model(torch.nn.Linear(8, 4), 0.5, "row")
    assert caught.value.named("--scope") == "--scope 'row': use global, layer, 2:4"
    with pytest.raises(OptionError, match="^scope '2:4': use global, layer$"):  # a fixed pattern, not a path
        MagnitudeOrder.of([torch.ones(4)], "2:4")
    with pytest.raises(OptionError, match="^pattern 'dense': use csr, 2:4$"):
        check_pattern("dense", torch.device("cpu"))
    with pytest.raises(OptionError, match="^formats 'onnx': use prunelimit, torch-prune, safetensors$"):
        prune_outputs("p.pt", ("prunelimit", "onnx"))
    with pytest.raises(OptionError, match="^use 'upper': use lower, predicted, actual$"):
        rules_from_options(0.5, "upper", None, None)


def test_pattern_2_4_off_a_gpu_names_the_pattern_and_keeps_the_documented_message(cli, tmp_path):
    with library_call(), pytest.raises(OptionError) as caught:  # a library caller reads the keyword and its value
        check_pattern("2:4", torch.device("cpu"))
    assert caught.value.option == "pattern" and str(caught.value).startswith("pattern='2:4' needs a CUDA GPU")
    assert str(caught.value).endswith("use pattern='csr'")
    result = cli("export", tmp_path / "any.pt", "-o", tmp_path / "m.safetensors", "--bench", "--pattern", "2:4",
                 "--device", "cpu")
    assert result.exit_code == 2
    assert result.stderr == ("prunelimit: error: --pattern 2:4 needs a CUDA GPU (torch's semi-structured kernels "
                             "run only there), and the device is cpu; use --pattern csr\n")
    assert list(tmp_path.iterdir()) == []


def test_scope_2_4_with_another_ratio_stays_a_usage_error_naming_both_flags(cli, tmp_path):
    """The pair of values does not fit, not one of them: a ``UsageError`` with both flags."""
    with library_call(), pytest.raises(UsageError) as caught:
        check_prune_scope("2:4", 0.6)
    assert not isinstance(caught.value, OptionError)
    # a library caller is told the keywords with their values (it read "pass ratio 0.5"), the command line its flags
    assert str(caught.value) == ("scope='2:4' keeps 2 of every 4 weights, a ratio of exactly 0.5 (got ratio=0.6); "
                                 "pass ratio=0.5")
    out = tmp_path / "p.pt"
    result = cli("prune", EXAMPLE_CKPT, "--scope", "2:4", "-o", out)
    assert result.exit_code == 2
    assert result.stderr == ("prunelimit: error: --scope 2:4 keeps 2 of every 4 weights, a ratio of exactly 0.5 "
                             "(got --ratio auto); pass --ratio 0.5\n")
    assert not out.exists()


def test_a_policy_rules_use_stays_a_usage_error_naming_the_rule(cli, tmp_path):
    """A ``use`` key inside a YAML rule is part of that rule, not the --use option."""
    with pytest.raises(UsageError) as caught:
        rules_from_options(None, "lower", None, None, [{"min_ratio": 0.1, "use": "upper"}])
    assert not isinstance(caught.value, OptionError)
    policy = tmp_path / "gate.yaml"
    policy.write_text("rules:\n  - {min_ratio: 0.1, use: upper}\n")
    result = cli("gate", EXAMPLE_CKPT, "--config", policy, "--no-cache")
    assert result.exit_code == 2
    assert result.stderr == (f"prunelimit: error: gate rule 'rule 1' in {policy}: use must be lower, predicted or "
                             "actual, got 'upper'\n")
