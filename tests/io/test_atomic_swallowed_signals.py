"""A signal whose exception is swallowed still ends the command (prunelimit.io.atomic.raise_if_signalled).

The handler turns SIGINT into a KeyboardInterrupt raised in whatever Python code runs then,
and code not ours can swallow it: mpmath, imported mid-run by torch, tries ``import gmpy2``
under a bare ``except``, and Python only prints an exception raised in a finalizer. A Ctrl-C
landing there let bounds run on (``--runs 1000``: past the SIGINT test's 60 s) and write its
files with exit 0. The user's loss below swallows a signal it sends itself, the same two ways,
so the test is deterministic.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prunelimit.io import atomic
from prunelimit.io.atomic import install_signal_handlers, raise_if_signalled, write_text_atomic
from tests.conftest import signals_as_at_a_terminal

ROOT = Path(__file__).resolve().parents[2]

SWALLOWING_LOSSES = '''
import os
import signal
import time

import torch.nn.functional as F

sent = []


def _send():
    sent.append(True)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)  # the handler runs as the signal cuts the sleep short, raising here


def _under_a_bare_except():
    try:  # as mpmath's `import gmpy2`
        _send()
    except BaseException:
        pass


class _Finalized:
    def __del__(self):  # Python can only print what a finalizer raises ("Exception ignored in")
        _send()


def bare_except(model, batch):
    if not sent:
        _under_a_bare_except()
    return F.cross_entropy(model(batch[0]), batch[1])


def finalizer(model, batch):
    if not sent:
        _Finalized()  # dropped at once: its __del__ runs here
    return F.cross_entropy(model(batch[0]), batch[1])
'''


@pytest.mark.parametrize("swallowed_by", ["bare_except", "finalizer"])
def test_a_swallowed_sigint_still_exits_130_and_writes_nothing(tmp_path, swallowed_by):
    losses, plot = tmp_path / "swallowing_losses.py", tmp_path / "out" / "b.png"
    losses.write_text(SWALLOWING_LOSSES)
    plot.parent.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "prunelimit", "bounds", str(ROOT / "examples/digits-mlp.pt"), "--loss",
         f"{losses}:{swallowed_by}", "--max-samples", "300", "--method", "paper", "--iterations", "12",
         "--device", "cpu", "--threads", "1", "--no-cache", "--plot", str(plot)],
        cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=120,
        preexec_fn=signals_as_at_a_terminal)
    assert proc.returncode == 130, proc.stderr  # it was 0: the run went on to its end
    assert proc.stderr.startswith("prunelimit: interrupted; no partial output file was left"), proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert proc.stdout == "" and list(plot.parent.iterdir()) == []


@pytest.fixture
def handlers():
    """Our handlers installed for the test, Python's put back after it."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    install_signal_handlers()
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        atomic.forget_signal()


def _swallow(signum: int) -> None:
    try:
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler raises as the signal cuts the sleep short
    except BaseException:
        pass


def test_a_swallowed_sigterm_is_raised_again_and_a_write_leaves_nothing(tmp_path, handlers):
    _swallow(signal.SIGTERM)
    with pytest.raises(atomic.Terminated):
        write_text_atomic(tmp_path / "r.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_the_signal_is_forgotten_once_taken_or_once_its_handler_is_gone(handlers):
    _swallow(signal.SIGINT)
    atomic.forget_signal()  # the command's end took it
    raise_if_signalled()
    _swallow(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a caller put its own handler back
    raise_if_signalled()
