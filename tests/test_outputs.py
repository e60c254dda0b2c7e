"""Outputs that clobber or linger (issue 16, class 4): every command checks every output
before any work, never writes over one of its inputs (not even with ``--force``), never
writes two outputs to one path or a file whose extension names another format, and a
SIGTERM during a save exits 143 leaving the destination as it was and no temporary file.

"No work" is shown by behaviour: the loss is a user file that leaves a marker the first
time it runs, so a refusal after any data pass would leave the marker. Tests run as
root, for whom every tmpfs folder is writable; an unwritable place is a path under a
regular file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest
import torch

from prunelimit.errors import UsageError
from prunelimit.io.atomic import (
    Terminated, install_signal_handlers, signals_deferred, staged, write_atomic,
)
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model
from tests.conftest import SPEC, junit_error_report, signals_as_at_a_terminal

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "digits-mlp.pt")

ROOT = Path(__file__).resolve().parents[1]
FAST = 10.0  # seconds: a refusal up front is far below this; a data pass plus curvature work is not


@pytest.fixture(scope="module")
def c(tmp_path_factory) -> SimpleNamespace:
    """Inputs of every kind, once per module; ``c.marker`` appears when the loss ever runs."""
    d = tmp_path_factory.mktemp("inputs")
    ns = SimpleNamespace(dir=d, marker=d / "loss-ran")
    torch.manual_seed(0)
    model = build_model(SPEC)
    ns.ckpt = d / "model.pt"
    save_checkpoint(ns.ckpt, SPEC, model.state_dict(), meta={"data": "digits:train"})
    ns.data = d / "data.pt"
    rng = np.random.default_rng(0)
    torch.save({"x": torch.from_numpy(rng.normal(size=(32, 64)).astype(np.float32)),
                "y": torch.from_numpy(rng.integers(0, 10, 32))}, ns.data)
    ns.loss = d / "marker_loss.py"
    ns.loss.write_text(
        "import torch.nn.functional as F\n"
        "def fn(model, batch):\n"
        f"    open({str(ns.marker)!r}, 'a').close()\n"
        "    x, y = batch\n"
        "    return F.cross_entropy(model(x), y)\n"
    )
    ns.points = d / "points.csv"
    ns.points.write_text("density,gamma\n" + "".join(f"{0.9 ** k!r},{0.01 * 1.3 ** k!r}\n" for k in range(30)))
    ns.errors = d / "errors.csv"
    ns.errors.write_text("density,error\n" + "".join(f"{0.8 ** k!r},{0.02 + 0.3 * 0.8 ** (-k / 4) / 10!r}\n"
                                                     for k in range(12)))
    ns.config = d / "options"  # a config file without an extension, so only the input check can catch it
    ns.config.write_text("seed: 0\n")
    ns.imp_dir = d / "sweep"
    ns.imp_dir.mkdir()
    ns.imp_source = ns.imp_dir / "level_000.pt"
    save_checkpoint(ns.imp_source, SPEC, model.state_dict(), meta={"data": "digits:train"})
    ns.afile = d / "afile"  # a regular file: nothing can be created below it, not even by root
    ns.afile.write_text("x")
    return ns


def _snapshot(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for f in folders for p in sorted(f.rglob("*")) if p.is_file()}


def _refused(cli, c, args: list, excerpt: str, *watch: Path):
    """Run ``args``; assert exit 2, one line naming ``excerpt``, no work, no file created or changed."""
    before = _snapshot(c.dir, *watch)
    start = time.perf_counter()
    result = cli(*args)
    elapsed = time.perf_counter() - start
    err = result.stderr
    assert result.exit_code == 2, err
    assert err.startswith("prunelimit: error: ") and excerpt in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert result.stdout == ""
    assert _snapshot(c.dir, *watch) == before, "an input was changed or an output written"
    assert not c.marker.exists(), "the loss ran: work started before the outputs were checked"
    assert elapsed < FAST
    return err


# --------------------------------------------------------------------------- output == input

# (name, the input file an output aims at, args given that path, whether the command has --force)
CLASHES: list[tuple[str, str, Callable[[SimpleNamespace, Path], list], bool]] = [
    ("spectrum --plot", "ckpt", lambda c, p: ["spectrum", c.ckpt, "--plot", p], True),
    ("bounds --plot", "ckpt", lambda c, p: ["bounds", c.ckpt, "--plot", p], True),
    ("bounds --plot onto --loss file", "loss",
     lambda c, p: ["bounds", c.ckpt, "--loss", f"{c.loss}:fn", "--plot", p], True),
    ("bounds --plot onto --config", "config", lambda c, p: ["bounds", c.ckpt, "--config", c.config, "--plot", p], True),
    ("verify --plot", "ckpt", lambda c, p: ["verify", c.ckpt, "--plot", p], True),
    ("prune -o", "ckpt", lambda c, p: ["prune", c.ckpt, "--ratio", "0.5", "-o", p], True),
    ("prune -o onto --data", "data",
     lambda c, p: ["prune", c.ckpt, "--data", f"tensors:{c.data}", "--ratio", "0.5", "-o", p], True),
    ("gate --junit", "ckpt", lambda c, p: ["gate", c.ckpt, "--min-ratio", "0.1", "--no-cache", "--junit", p], False),
    ("law nplh -o", "ckpt", lambda c, p: ["law", "nplh", c.ckpt, "-o", p], True),
    ("law nplh --plot", "ckpt", lambda c, p: ["law", "nplh", c.ckpt, "--plot", p], True),
    ("law nplh-fit --plot", "points", lambda c, p: ["law", "nplh-fit", c.points, "--plot", p], True),
    ("law error-fit --plot", "errors", lambda c, p: ["law", "error-fit", c.errors, "--plot", p], True),
    ("hyperflux -o", "ckpt", lambda c, p: ["hyperflux", c.ckpt, "--target-density", "0.5", "-o", p], True),
    ("hyperflux --log", "ckpt",
     lambda c, p: ["hyperflux", c.ckpt, "--target-density", "0.5", "-o", c.dir / "new.pt", "--log", p], True),
    ("train -o onto --data", "data",
     lambda c, p: ["train", "--model", SPEC, "--data", f"tensors:{c.data}", "-o", p], True),
    ("train --resume -o onto --data", "data",
     lambda c, p: ["train", "--model", SPEC, "--data", f"tensors:{c.data}", "--resume", "-o", p], False),
    ("imp -o the source's folder", "imp_dir", lambda c, p: ["imp", c.imp_source, "-o", p, "--levels", "1"], False),
]
ALIASES = ("same", "relative", "symlink", "hardlink")


def _alias(kind: str, target: Path, tmp_path: Path, monkeypatch) -> Path:
    """Another name for ``target``: itself, a relative path with a detour, a symbolic or a hard link."""
    if kind == "same":
        return target
    if kind == "relative":
        monkeypatch.chdir(target.parent)
        (target.parent / "detour").mkdir(exist_ok=True)
        return Path("detour") / ".." / target.name
    link = tmp_path / f"alias{target.suffix}"
    if kind == "symlink":
        link.symlink_to(target)
    else:
        os.link(target, link)
    return link


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("name, target, args, has_force", CLASHES, ids=[x[0] for x in CLASHES])
def test_an_output_never_overwrites_an_input(cli, c, tmp_path, monkeypatch, name, target, args, has_force, alias,
                                             force):
    path = getattr(c, target)
    if force and not has_force:
        pytest.skip("the command has no --force")
    if alias == "hardlink" and path.is_dir():
        pytest.skip("folders have no hard links")
    given = _alias(alias, path, tmp_path, monkeypatch)
    err = _refused(cli, c, [*args(c, given), *(["--force"] if force else [])], "would overwrite the input", tmp_path)
    assert "--force never replaces an input" in err


def test_prune_safetensors_copy_never_overwrites_the_input(cli, c, tmp_path):
    source = tmp_path / "net.safetensors"
    from safetensors.torch import save_file

    torch.manual_seed(0)
    save_file(build_model(SPEC).state_dict(), str(source))
    _refused(cli, c, ["prune", source, "--model", SPEC, "--data", "digits", "--ratio", "0.5",
                      "-o", tmp_path / "net.pt", "--format", "safetensors", "--force"],
             "would overwrite the input", tmp_path)


# --------------------------------------------------------------------------- outputs colliding


@pytest.mark.parametrize("name, args", [
    ("hyperflux -o = --log", lambda c, o: ["hyperflux", c.ckpt, "--target-density", "0.5", "-o", o / "h.pt",
                                           "--log", o / "h.pt"]),
    ("law nplh -o = --plot", lambda c, o: ["law", "nplh", c.ckpt, "-o", o / "n.csv", "--plot", o / "n.csv"]),
    ("law nplh, no extensions", lambda c, o: ["law", "nplh", c.ckpt, "-o", o / "n", "--plot", o / "x" / ".." / "n"]),
    ("prune -o p.safetensors --format safetensors",
     lambda c, o: ["prune", c.ckpt, "--ratio", "0.5", "-o", o / "p.safetensors", "--format", "safetensors"]),
    ("bounds --plot inside --report", lambda c, o: ["bounds", c.ckpt, "--plot", o / "r" / "report.html",
                                                   "--report", o / "r"]),
    ("verify --plot through a symlink", lambda c, o: ["verify", c.ckpt, "--plot", o / "v.png", "--report", o / "r",
                                                      "--force"]),
], ids=lambda x: x if isinstance(x, str) else "")
def test_two_outputs_on_one_path_are_refused(cli, c, tmp_path, name, args):
    out = tmp_path / "out"
    out.mkdir()
    if "symlink" in name:  # the plot's name is a link to where the report goes
        (out / "r").mkdir()
        (out / "v.png").symlink_to(out / "r" / "report.html")
    _refused(cli, c, args(c, out), "are the same file", out)


@pytest.mark.parametrize("name, args", [
    ("prune --report = -o", lambda c, o: ["prune", c.ckpt, "--ratio", "0.5", "-o", o / "p.pt", "--report", o / "p.pt"]),
    ("bounds --report = --plot", lambda c, o: ["bounds", c.ckpt, "--plot", o / "b.png", "--report", o / "b.png"]),
    ("export --report = -o", lambda c, o: ["export", c.ckpt, "-o", o / "e.safetensors",
                                           "--report", o / "e.safetensors"]),
    ("hyperflux --report under --log", lambda c, o: ["hyperflux", c.ckpt, "--target-density", "0.5", "-o", o / "h.pt",
                                                     "--log", o / "h.csv", "--report", o / "h.csv" / "r"]),
    ("imp --report = a level", lambda c, o: ["imp", c.ckpt, "-o", o / "s", "--report", o / "s" / "level_000.pt"]),
], ids=lambda x: x if isinstance(x, str) else "")
def test_an_output_inside_another_output_s_file_is_refused(cli, c, tmp_path, name, args):
    """`--report DIR` where another output of the run is a file (`-o p.pt --report p.pt`, an
    IMP level's name): checked as separate paths it passed, then failed after the work ("cannot
    use .p.pt.….tmp: Is a directory", or the levels written and the page not)."""
    out = tmp_path / "out"
    out.mkdir()
    _refused(cli, c, args(c, out), "lies inside", out)


# --------------------------------------------------------------------------- extension vs format


@pytest.mark.parametrize("args, excerpt", [
    (lambda c, o: ["prune", c.ckpt, "--ratio", "0.5", "-o", o / "p.safetensors"], "end the name in .pt"),
    (lambda c, o: ["train", "--model", SPEC, "--data", "digits", "-o", o / "t.safetensors"], "end the name in .pt"),
    (lambda c, o: ["spectrum", c.ckpt, "--plot", o / "s.csv"], "end the name in .png"),
    (lambda c, o: ["bounds", c.ckpt, "--plot", o / "b.txt"], "end the name in .png"),
    (lambda c, o: ["verify", c.ckpt, "--plot", o / "v.pdf"], "end the name in .png"),
    (lambda c, o: ["law", "error-fit", c.errors, "--plot", o / "f.txt"], "end the name in .png"),
    (lambda c, o: ["law", "nplh-fit", c.points, "--plot", o / "f.jpg"], "end the name in .png"),
    (lambda c, o: ["law", "nplh", c.ckpt, "-o", o / "n.png"], "end the name in .csv"),
    (lambda c, o: ["hyperflux", c.ckpt, "--target-density", "0.5", "-o", o / "h.csv"], "end the name in .pt"),
    (lambda c, o: ["hyperflux", c.ckpt, "--target-density", "0.5", "-o", o / "h.pt", "--log", o / "log.pt"],
     "end the name in .csv"),
    (lambda c, o: ["gate", c.ckpt, "--min-ratio", "0.1", "--no-cache", "--junit", o / "g.json"], "end the name in .xml"),
])
def test_an_extension_that_names_another_format_is_refused(cli, c, tmp_path, args, excerpt):
    out = tmp_path / "out"
    out.mkdir()
    _refused(cli, c, args(c, out), excerpt, out)


# --------------------------------------------------------------------------- unwritable places, before any work

UNWRITABLE: dict[str, Callable[[SimpleNamespace, Path], list]] = {
    "spectrum --plot": lambda c, bad: ["spectrum", c.ckpt, "--plot", bad / "s.png"],
    "bounds --report": lambda c, bad: ["bounds", c.ckpt, "--report", bad / "report"],
    "bounds --plot": lambda c, bad: ["bounds", c.ckpt, "--plot", bad / "b.png"],
    "verify --report": lambda c, bad: ["verify", c.ckpt, "--report", bad / "report"],
    "prune -o": lambda c, bad: ["prune", c.ckpt, "--ratio", "auto", "-o", bad / "p.pt"],
    "prune --report": lambda c, bad: ["prune", c.ckpt, "--ratio", "auto", "-o", c.dir / "fresh.pt",
                                      "--report", bad / "r"],
    "gate --junit": lambda c, bad: ["gate", c.ckpt, "--min-ratio", "0.1", "--no-cache", "--junit", bad / "g.xml"],
    "gate --cache-dir": lambda c, bad: ["gate", c.ckpt, "--min-ratio", "0.1", "--cache-dir", bad / "cache"],
    "law nplh -o": lambda c, bad: ["law", "nplh", c.ckpt, "-o", bad / "n.csv"],
    "law nplh --report": lambda c, bad: ["law", "nplh", c.ckpt, "--report", bad / "r"],
    "law nplh-fit --report": lambda c, bad: ["law", "nplh-fit", c.points, "--report", bad / "r"],
    "law error-fit --plot": lambda c, bad: ["law", "error-fit", c.errors, "--plot", bad / "f.png"],
    "hyperflux -o": lambda c, bad: ["hyperflux", c.ckpt, "--target-density", "0.5", "-o", bad / "h.pt"],
    "hyperflux --log": lambda c, bad: ["hyperflux", c.ckpt, "--target-density", "0.5", "-o", c.dir / "fresh.pt",
                                       "--log", bad / "h.csv"],
    "train -o": lambda c, bad: ["train", "--model", SPEC, "--data", "digits", "-o", bad / "t.pt"],
    "imp -o under a file": lambda c, bad: ["imp", c.ckpt, "-o", bad / "sweep"],
    "imp -o onto a file": lambda c, bad: ["imp", c.ckpt, "-o", bad],
    "imp --report": lambda c, bad: ["imp", c.ckpt, "-o", c.dir / "sweep", "--report", bad / "r"],
    "hyperflux --report": lambda c, bad: ["hyperflux", c.ckpt, "--target-density", "0.5", "-o", c.dir / "fresh.pt",
                                          "--report", bad / "r"],
}
_LOSS = {"spectrum", "bounds", "verify", "prune", "gate", "nplh", "hyperflux", "train", "imp"}


@pytest.mark.parametrize("args", UNWRITABLE.values(), ids=UNWRITABLE.keys())
def test_an_unwritable_output_is_refused_before_any_work(cli, c, args):
    cmd = args(c, c.afile)
    loss = ["--loss", f"{c.loss}:fn"] if _LOSS & {str(a) for a in cmd[:2]} else []
    _refused(cli, c, [*cmd, *loss], "afile")


_RESULTS = [k for k in UNWRITABLE if k not in ("imp -o onto a file", "gate --cache-dir")]  # a result's files


@pytest.mark.parametrize("args", [UNWRITABLE[k] for k in _RESULTS], ids=_RESULTS)
def test_a_dotdot_after_a_missing_folder_is_refused_before_any_work(cli, c, args):
    """``missing/../report``: the check before the work passed it (the nearest existing folder
    is writable), then the write failed after the work ('cannot create folder missing/..
    (File exists)'), or would have made ``missing``, a folder nobody asked for."""
    cmd = args(c, c.dir / "missing" / "..")
    loss = ["--loss", f"{c.loss}:fn"] if _LOSS & {str(a) for a in cmd[:2]} else []
    _refused(cli, c, [*cmd, *loss], "missing")


# --------------------------------------------------------------------------- --force: previous outputs only


def test_force_replaces_a_previous_output_but_nothing_else(cli, c, tmp_path):
    out = tmp_path / "p.pt"
    assert cli("prune", c.ckpt, "--ratio", "0.5", "-o", out).exit_code == 0
    first = out.read_bytes()
    assert cli("prune", c.ckpt, "--ratio", "0.5", "-o", out).exit_code == 2  # no --force: kept
    assert out.read_bytes() == first
    result = cli("prune", c.ckpt, "--ratio", "0.7", "-o", out, "--force")
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.pt"]


@pytest.mark.parametrize("key", ["data", "eval_data"])
@pytest.mark.parametrize("args", [
    lambda ckpt, p: ["prune", ckpt, "--ratio", "0.5", "-o", p, "--force"],
    lambda ckpt, p: ["hyperflux", ckpt, "--target-density", "0.5", "--pruning-epochs", "1", "--regrowth-epochs", "0",
                     "-o", p, "--force"],
])
def test_a_data_file_the_checkpoint_records_is_an_input(cli, c, tmp_path, key, args):
    """Known only once the checkpoint is read, but an input all the same: the pruned copy
    replaced the evaluation data it records (and would then point at itself)."""
    data = tmp_path / "recorded.pt"
    data.write_bytes(c.data.read_bytes())
    ckpt = tmp_path / "m.pt"
    save_checkpoint(ckpt, SPEC, build_model(SPEC).state_dict(),
                    meta={"data": "digits:train", key: f"tensors:{data}"})
    result = cli(*args(ckpt, data))
    assert result.exit_code == 2 and "would overwrite the input" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert data.read_bytes() == c.data.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt", "recorded.pt"]


@pytest.mark.parametrize("args", [
    lambda c, p: ["prune", c.ckpt, "--ratio", "0.5", "-o", p, "--force"],
    lambda c, p: ["gate", c.ckpt, "--min-ratio", "0", "--junit", p],  # --junit rewrites its file on purpose
])
@pytest.mark.parametrize("link", [False, True])
def test_a_fifo_or_device_is_never_replaced(cli, c, tmp_path, args, link):
    """Even with --force: the rename would replace the node itself (run as root, -o /dev/null
    would turn the device into a checkpoint)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    target = tmp_path / "link" if link else fifo
    if link:
        target.symlink_to(fifo)
    _refused(cli, c, args(c, target), "not a regular file")
    assert fifo.is_fifo() and (not link or target.is_symlink())


# --------------------------------------------------------------------------- the atomic writer


def _half_then_fail(tmp: Path) -> None:
    tmp.write_text("half")
    raise RuntimeError("disk full")


def test_a_failing_writer_leaves_the_destination_and_no_temporary(tmp_path):
    dest = tmp_path / "d.txt"
    dest.write_text("old")
    with pytest.raises(RuntimeError):
        write_atomic(dest, _half_then_fail, force=True)
    assert dest.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["d.txt"]
    with pytest.raises(RuntimeError):  # folders it created for the file go again too
        write_atomic(tmp_path / "a" / "b" / "x.txt", _half_then_fail, parents=True)
    assert [p.name for p in tmp_path.iterdir()] == ["d.txt"]


def test_a_failing_writer_among_several_leaves_none_of_them(tmp_path):
    """Inside ``staged`` the first file is not renamed before the second is written: the old
    first file keeps its bytes, a new one never appears, the folders made for one go again."""
    old, keep = tmp_path / "old.pt", tmp_path / "old.csv"
    old.write_text("old pt")
    keep.write_text("old")
    for first in (old, tmp_path / "new.pt", tmp_path / "made" / "new.pt"):
        with pytest.raises(RuntimeError):
            with staged():
                write_atomic(first, lambda p: p.write_text("a"), force=True, parents=True)
                write_atomic(keep, _half_then_fail, force=True)
        assert old.read_text() == "old pt" and keep.read_text() == "old"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["old.csv", "old.pt"]


def test_staged_writes_all_files_at_its_end_and_joins_an_outer_block(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    with staged():
        write_atomic(a, lambda p: p.write_text("a"))
        with staged():  # an inner block (a library call inside a command) joins the outer one
            write_atomic(b, lambda p: p.write_text("b"))
        assert not a.exists() and not b.exists()  # nothing renamed before the outer block ends
    assert a.read_text() == "a" and b.read_text() == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_a_failing_rename_puts_back_the_files_renamed_before_it(tmp_path, monkeypatch):
    """The renames at the end of ``staged`` can fail too (the folder turned read-only, a
    folder put where the file goes): the files already renamed get their old bytes back, a
    new one goes again, and neither a temporary file nor the kept old content stays."""
    old, new, made, failing = tmp_path / "a.pt", tmp_path / "b.csv", tmp_path / "d" / "c.png", tmp_path / "z.json"
    old.write_text("old a")
    real = os.replace

    def replace(src, dst):
        if Path(dst) == failing:
            raise OSError(30, "Read-only file system")
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="Read-only"):
        with staged():
            for path in (old, new, made, failing):
                write_atomic(path, lambda p: p.write_text("new"), force=True, parents=True)
    assert old.read_text() == "old a"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.pt"]


def test_a_signal_inside_staged_removes_every_temporary(tmp_path):
    """Ctrl-C after the first file is written: the destination keeps its old bytes."""
    dest = tmp_path / "d.pt"
    dest.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with staged():
            write_atomic(dest, lambda p: p.write_text("new"), force=True)
            raise KeyboardInterrupt
    assert dest.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["d.pt"]


def test_a_second_signal_while_cleaning_up_still_removes_every_temporary(tmp_path, monkeypatch):
    """Ctrl-C, then SIGTERM while the first temporary file is being removed: the second
    signal waits until every one is gone (it stopped the cleanup, leaving the others)."""
    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    install_signal_handlers()
    real, sent = os.unlink, []

    def unlink(path, *args, **kwargs):
        if not sent:
            sent.append(path)
            os.kill(os.getpid(), signal.SIGTERM)
        real(path, *args, **kwargs)

    try:
        with pytest.raises(Terminated):
            with staged():
                for name in ("a.pt", "b.csv", "c.png"):
                    write_atomic(tmp_path / name, lambda p: p.write_text("new"))
                monkeypatch.setattr(os, "unlink", unlink)
                raise KeyboardInterrupt
    finally:
        signal.signal(signal.SIGINT, saved[0])
        signal.signal(signal.SIGTERM, saved[1])
    assert sent and list(tmp_path.iterdir()) == []


def test_an_inner_block_that_fails_takes_only_its_own_files(tmp_path):
    """An inner block is one result too: its error removes its files, and an outer block
    that goes on without it (a command that handles the error) writes only its own."""
    with staged():
        write_atomic(tmp_path / "a.txt", lambda p: p.write_text("a"))
        with pytest.raises(RuntimeError):
            with staged():
                write_atomic(tmp_path / "b.txt", lambda p: p.write_text("b"), parents=True)
                write_atomic(tmp_path / "made" / "c.txt", lambda p: p.write_text("c"), parents=True)
                raise RuntimeError("the inner result failed")
        write_atomic(tmp_path / "d.txt", lambda p: p.write_text("d"))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "d.txt"]


def test_a_path_written_twice_in_one_block_is_one_file_written_twice(tmp_path):
    """Without ``force`` the second write is refused, as it is once the first file is in
    place (in a block it went through: no file existed yet), and the block writes nothing;
    with ``force`` the last write wins, under any spelling of the path, and no temporary
    file is left."""
    dest = tmp_path / "d.txt"
    with pytest.raises(UsageError, match="already exists; pass --force"):
        with staged():
            write_atomic(tmp_path / "other.txt", lambda p: p.write_text("o"))
            write_atomic(dest, lambda p: p.write_text("first"))
            write_atomic(tmp_path / ".." / tmp_path.name / "d.txt", lambda p: p.write_text("second"))
    assert list(tmp_path.iterdir()) == []
    with staged():
        write_atomic(tmp_path / "made" / "d.txt", lambda p: p.write_text("first"), parents=True)
        write_atomic(tmp_path / "made" / "d.txt", lambda p: p.write_text("second"), force=True, parents=True)
    assert (tmp_path / "made" / "d.txt").read_text() == "second"
    assert [p.name for p in tmp_path.rglob("*")] == ["made", "d.txt"]


TIED_PY = ("from torch import nn\n\ndef make():\n    a, b = nn.Linear(64, 64), nn.Linear(64, 64)\n"
           "    b.weight = a.weight\n    return nn.Sequential(a, nn.ReLU(), b, nn.ReLU(), nn.Linear(64, 10))\n")


def test_prune_of_tied_weights_writes_every_format(cli, tmp_path):
    """safetensors refuses tensors sharing memory: that was exit 5 after the .pt was already written."""
    code, ckpt, out = tmp_path / "tied.py", tmp_path / "tied.pt", tmp_path / "p.pt"
    code.write_text(TIED_PY)
    torch.manual_seed(0)
    model = build_model(f"{code}:make")
    save_checkpoint(ckpt, None, model.state_dict(), meta={"data": "digits:train"})
    result = cli("prune", ckpt, "--model", f"{code}:make", "--ratio", "0.5", "-o", out,
                 "--format", "safetensors", "--format", "torch-prune")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("p.")) == ["p.prune.pt", "p.pt",
                                                                                      "p.safetensors"]


def test_a_signal_inside_a_deferred_block_waits_for_its_end(tmp_path):
    """Creating or removing a temporary file is never cut in half: SIGTERM is raised after it."""
    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    install_signal_handlers()
    try:
        done = []
        with pytest.raises(Terminated):
            with signals_deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # the handler has run by now, and only noted the signal
                done.append(True)
        assert done == [True]
        with pytest.raises(Terminated):  # outside a deferred block it is raised at once
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    finally:
        signal.signal(signal.SIGINT, saved[0])
        signal.signal(signal.SIGTERM, saved[1])


def test_a_signal_ignored_by_the_caller_stays_ignored():
    """``nohup prunelimit …`` keeps running when the terminal closes: an ignored SIGHUP is not
    turned into an exit."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        install_signal_handlers()
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM).__module__ == "prunelimit.io.atomic"  # the others are ours
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def test_preflight_is_a_library_check_too(tmp_path):
    from prunelimit.io.outputs import Output, preflight

    source = tmp_path / "in.pt"
    source.write_bytes(b"x")
    with pytest.raises(UsageError, match="would overwrite the input"):
        preflight([Output("-o", source, "checkpoint")], [f"tensors:{source}"], force=True)


# --------------------------------------------------------------------------- SIGTERM during a save

# Runs the real command line with one writer made slow: it writes part of the temporary file,
# says so through a marker file, then waits for the signal the test sends.
SLOW_WRITER = """
import pathlib, sys, time
import torch
marker, patch = pathlib.Path(sys.argv[1]), sys.argv[2]
def stall():
    marker.touch()
    time.sleep(120)
if patch == "torch.save":
    real = torch.save
    def slow(obj, f, *args, **kwargs):
        real({"partial": True}, f)
        stall()
    torch.save = slow
else:
    name = patch.split(".")[-1]
    real = getattr(pathlib.Path, name)
    def slow(self, data, *args, **kwargs):
        real(self, data[:10], *args, **kwargs)
        stall()
    setattr(pathlib.Path, name, slow)
sys.argv = ["prunelimit", *sys.argv[3:]]
from prunelimit.cli import main
main()
"""


@pytest.mark.parametrize("patch, args, dest, signum", [
    ("torch.save", lambda c, o: ["prune", c.ckpt, "--ratio", "0.5", "-o", o / "p.pt", "--force"], "p.pt",
     signal.SIGTERM),
    ("Path.write_bytes", lambda c, o: ["law", "nplh-fit", c.points, "--plot", o / "f.png", "--force"], "f.png",
     signal.SIGTERM),
    ("Path.write_text", lambda c, o: ["law", "nplh-fit", c.points, "--report", o, "--force"], "report.html",
     signal.SIGTERM),
    # the terminal closed: handled as SIGTERM, with the shell's code for it (128 + 1)
    ("torch.save", lambda c, o: ["prune", c.ckpt, "--ratio", "0.5", "-o", o / "p.pt", "--force"], "p.pt",
     signal.SIGHUP),
], ids=["checkpoint", "png", "html", "checkpoint-sighup"])
def test_sigterm_during_a_save_exits_143_and_leaves_the_old_file(c, tmp_path, patch, args, dest, signum):
    out = tmp_path / "out"
    out.mkdir()
    (out / dest).write_bytes(b"previous output")
    marker = tmp_path / "saving"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, marker, patch, *map(str, args(c, out))],
                            cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=signals_as_at_a_terminal)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the save never started"
            time.sleep(0.1)
        assert any(p.name.endswith(".tmp") for p in out.iterdir())  # the half-written temporary is there
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err
    assert err.startswith(f"prunelimit: terminated ({signal.Signals(signum).name})") and "Traceback" not in err, err
    assert [p.name for p in out.iterdir()] == [dest], "a temporary file was left behind"
    assert (out / dest).read_bytes() == b"previous output"


def test_what_user_code_prints_goes_to_stderr_and_stdout_keeps_the_report(cli, tmp_path):
    """A factory or forward that prints (a debugging line, a library's banner) must not break
    `--json` on stdout, which a CI job parses: the prints go to stderr, the report stays whole."""
    factory = tmp_path / "chatty.py"
    factory.write_text(
        "import torch\nfrom prunelimit.models.spec import build_model\nprint('importing chatty')\n"
        "class Chatty(torch.nn.Module):\n"
        "    def __init__(self):\n        super().__init__(); self.net = build_model(%r)\n"
        "    def forward(self, x):\n        print('forward', x.shape[0]); return self.net(x)\n"
        "def build():\n    print('building'); return Chatty()\n" % SPEC)
    ckpt = tmp_path / "chatty.pt"
    save_checkpoint(ckpt, f"{factory}:build", {f"net.{k}": v for k, v in build_model(SPEC).state_dict().items()})
    for fmt in (["--json"], []):
        result = cli("info", ckpt, "--model", f"{factory}:build", "--data", "digits:train", *fmt)
        assert result.exit_code == 0, result.stderr
        assert "building" in result.stderr and "forward" in result.stderr
        assert "building" not in result.stdout and "forward" not in result.stdout
    assert json.loads(cli("info", ckpt, "--model", f"{factory}:build", "--data", "digits:train",
                          "--json").stdout)["schema"] == "prunelimit.info/1"


@pytest.mark.parametrize("args", [
    ["bounds", ""],
    ["bounds", EXAMPLE, "--report", ""],
    ["bounds", EXAMPLE, "--plot", ""],
    ["bounds", EXAMPLE, "--config", ""],
    ["bounds", EXAMPLE, "--cache-dir", ""],
    ["verify", EXAMPLE, "--from", ""],
    ["gate", EXAMPLE, "--max-drop", "0.1", "--baseline", ""],
    ["prune", EXAMPLE, "--ratio", "0.5", "-o", ""],
    ["prune", EXAMPLE, "--ratio", "auto", "--from", "", "-o", "p.pt"],
    ["train", "--model", SPEC, "--data", "digits", "-o", ""],
    ["export", EXAMPLE, "-o", ""],
    ["imp", "--model", SPEC, "--data", "digits", "-o", ""],
    ["hyperflux", "--model", SPEC, "--data", "digits", "-o", "h.pt", "--log", ""],
    ["law", "nplh-fit", ""],
    ["law", "error-fit", ""],
], ids=lambda a: "-".join(x for x in a[:1] + [x for x in a if x.startswith("-")][-1:]))
def test_an_empty_path_is_refused_before_any_work(cli, args, tmp_path, monkeypatch):
    """`-o "$OUT"` with OUT unset gives an empty path, which would mean the current folder
    (imp wrote its levels there, bounds --report its report.html): exit 2, naming the option."""
    monkeypatch.chdir(tmp_path)
    result = cli(*args)
    assert result.exit_code == 2, result.stderr
    assert "is empty; give a path" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_empty_path_rewrites_the_junit_report_as_an_error(cli, tmp_path):
    report = tmp_path / "gate.xml"
    report.write_text("<testsuite tests='1' failures='0'/>")  # a previous run's pass
    result = cli("gate", EXAMPLE, "--max-drop", "0.1", "--baseline", "", "--junit", report)
    assert result.exit_code == 2
    assert junit_error_report(report, result.stderr)


def test_ctrl_c_while_torch_writes_a_checkpoint_is_ctrl_c(tmp_path, monkeypatch):
    """torch.save writes through the file object's ``write`` from C++, which turns the
    KeyboardInterrupt raised there into a RuntimeError ("unexpected pos"): Ctrl-C during a
    checkpoint's save was exit 5 "internal error", not 130. The interruption is now raised as
    itself; the temporary file is removed and the destination never appears."""
    import io

    from prunelimit.io import checkpoint

    class Interrupting(io.FileIO):
        def write(self, data):
            writes.append(len(data))
            if len(writes) == 2 and not sent:  # at the first write torch passes the interrupt on; later, not
                sent.append(True)
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the handler runs here, inside torch's C++ writer
            return super().write(data)

    sent: list[bool] = []
    writes: list[int] = []
    monkeypatch.setattr(checkpoint, "open", lambda path, mode: Interrupting(path, mode), raising=False)
    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a runner started ignoring it ('pytest ... &')
    install_signal_handlers()  # leaves an ignored signal ignored
    try:
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(tmp_path / "c.pt", "mlp:4,3", build_model("mlp:4,3").state_dict())
    finally:
        signal.signal(signal.SIGINT, saved[0])
        signal.signal(signal.SIGTERM, saved[1])
    assert sent and list(tmp_path.iterdir()) == []
