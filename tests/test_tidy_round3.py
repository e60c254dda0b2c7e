"""Tidy-ups: a signal while the options are parsed, the error class of option checks."""

from __future__ import annotations

import pytest

from prunelimit.cli import common
from prunelimit.io.atomic import Terminated


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
