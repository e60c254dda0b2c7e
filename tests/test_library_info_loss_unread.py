"""``info`` reads its loss only over data: ``prunelimit.info(model, loss="mse")`` returned a
report with ``loss=None`` and no word that the loss went unused, and ``prunelimit info CKPT
--loss mse`` (or ``--batch-size``, ``--max-samples``) without ``--data`` printed the counts
and exited 0, while the library already refused ``batch_size`` without data. Both now refuse
them (exit 2 on the command line), naming the fix; so does ``inputs_from`` (``prune`` with a
number refused one already; every other entry needs data)."""

from __future__ import annotations

import pytest

import prunelimit
from prunelimit.errors import UsageError


def test_the_library_refuses_a_loss_without_data(model, train) -> None:
    with pytest.raises(UsageError, match=r"^loss has no effect: no data is given, and only the loss and accuracy "
                                         r"over it read it; drop it, or give data$"):
        prunelimit.info(model, loss="mse")
    assert prunelimit.info(model).loss is None  # the default, with nothing to read it
    assert prunelimit.info(model, train, loss="ce").loss == prunelimit.info(model, train).loss


@pytest.mark.parametrize("loss", ["mse", "ce", lambda out, y: (out - y).abs().mean()])
def test_inputs_from_refuses_a_loss_without_data_as_info_does(model, train, loss) -> None:
    """``prunelimit.inputs_from(model, loss="mse")`` returned Inputs with no batches and the
    loss unread (the default "ce" could not be told from one given): refused now, as ``info``."""
    with pytest.raises(UsageError, match=r"^loss has no effect: no data is given, and only the loss and accuracy "
                                         r"over it read it; drop it, or give data$"):
        prunelimit.inputs_from(model, loss=loss)
    assert prunelimit.inputs_from(model).batches is None  # the default, with nothing to read it
    assert prunelimit.inputs_from(model, train, loss="ce").loss == "ce"


@pytest.mark.parametrize("flag", [("--loss", "ce"), ("--batch-size", "7"), ("--max-samples", "20")])
def test_the_command_line_refuses_the_loss_flags_without_data(cli, own_ckpt, flag, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = cli("info", own_ckpt, *flag, "--threads", "1")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip() == (f"prunelimit: error: {flag[0]} has no effect: no --data is given, and only the "
                                     "loss and accuracy over it read it; drop it, or add --data")
    assert cli("info", own_ckpt, *flag, "--data", "digits:test", "--threads", "1").exit_code == 0
