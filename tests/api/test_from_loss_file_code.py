"""A saved prediction is read only for the ``--loss`` file's code it was computed for: a report
recorded a file's function by its name alone (``loss.py:loss``), so with the TorchScript the loss
loads beside it changed (a gradient scale: the loss's value, which ``--from`` compares, stays), or
the file's own code, ``gate --from`` read the old ρ* (0.832 where the changed loss gives 0.758)."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from prunelimit.specs import USER_MODULE_PREFIX

ARGS = ("--data", "digits:train", "--max-samples", 200)

# the loss scales its gradient by the TorchScript module in mix.pt and by {scale} in its own code,
# its value left as it is
LOSS_PY = ("from pathlib import Path\nimport torch\nimport torch.nn.functional as F\n\n"
           "_MIX = torch.jit.load(Path(__file__).parent / 'mix.pt')\n\n\n"
           "def loss(model, batch):\n    out = _MIX(model(batch[0]))\n"
           "    return F.cross_entropy(out.detach() * (1.0 - {scale}) + out * {scale}, batch[1])\n")


class _Mix(torch.nn.Module):
    __constants__ = ["scale"]

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, out):
        return out.detach() * (1.0 - self.scale) + out * self.scale


def _write(folder, scale: float, in_python: float = 1.0) -> None:
    (folder / "loss.py").write_text(LOSS_PY.format(scale=in_python))
    torch.jit.save(torch.jit.script(_Mix(scale)), folder / "mix.pt")


def _run(cli, monkeypatch, *args):
    for name in [name for name in sys.modules if name.startswith(USER_MODULE_PREFIX)]:
        monkeypatch.delitem(sys.modules, name)  # as a new process: the loss's file imported afresh
    return cli(*args)


@pytest.mark.parametrize("change", ["torchscript", "python"])
def test_a_report_of_the_loss_files_other_code_is_refused(cli, small_ckpt, tmp_path, monkeypatch, change):
    _write(tmp_path, 1.0)
    loss = ("--loss", f"{tmp_path / 'loss.py'}:loss")
    stored = _run(cli, monkeypatch, "bounds", small_ckpt, *ARGS, *loss, "--json", "--no-cache")
    assert stored.exit_code == 0, stored.stderr
    report = tmp_path / "bounds.json"
    report.write_text(stored.stdout)
    recorded = json.loads(stored.stdout)["data"]["loss"]
    assert recorded.startswith("loss.py:loss(code=")
    gate = ("gate", small_ckpt, *ARGS, *loss, "--from", report, "--min-ratio", 0, "--no-cache")
    assert _run(cli, monkeypatch, *gate).exit_code == 0  # its own loss
    _write(tmp_path, 3.0) if change == "torchscript" else _write(tmp_path, 1.0, in_python=3.0)
    for command in (gate, ("verify", small_ckpt, *ARGS, *loss, "--from", report, "--no-cache")):
        refused = _run(cli, monkeypatch, *command)
        assert refused.exit_code == 2, refused.stdout
        assert f"computed for another problem than this model: loss {recorded} vs loss.py:loss(code=" in refused.stderr


def test_an_older_report_naming_the_loss_file_alone_is_read_with_a_note(cli, small_ckpt, tmp_path, monkeypatch):
    _write(tmp_path, 1.0)
    loss = ("--loss", f"{tmp_path / 'loss.py'}:loss")
    doc = json.loads(_run(cli, monkeypatch, "bounds", small_ckpt, *ARGS, *loss, "--json", "--no-cache").stdout)
    doc["data"]["loss"] = "loss.py:loss"  # as an older prunelimit recorded it
    older = tmp_path / "older.json"
    older.write_text(json.dumps(doc))
    monkeypatch.setenv("COLUMNS", "200")  # the note names a long path: a line of 80 would fold it
    read = _run(cli, monkeypatch, "gate", small_ckpt, *ARGS, *loss, "--from", older, "--min-ratio", 0, "--no-cache")
    assert read.exit_code == 0, read.stderr
    assert f"{older} does not record its loss settings (an older report)" in read.output


# a --loss file's callable object, of the file's own class, whose call scales the gradient alone by {scale}
LOSS_OBJECT_PY = ("import torch.nn.functional as F\n\n\n"
                  "class Loss:\n    def __init__(self):\n        self.reduction = 'mean'\n\n"
                  "    def __call__(self, model, batch):\n        out = model(batch[0])\n"
                  "        return F.cross_entropy(out.detach() * (1.0 - {scale}) + out * {scale}, batch[1])\n\n\n"
                  "loss = Loss()\n")


def test_a_report_of_a_loss_objects_other_class_code_is_refused(cli, small_ckpt, tmp_path, monkeypatch):
    """A loss object of the user's class was recorded by its class's name and settings alone
    (``loss.py:Loss(reduction='mean')``), and ``gate --from`` read its report for the class's other
    code; its code is recorded last, and a report of an older prunelimit, without it, is read with a note."""
    (tmp_path / "loss.py").write_text(LOSS_OBJECT_PY.format(scale=1.0))
    loss = ("--loss", f"{tmp_path / 'loss.py'}:loss")
    stored = _run(cli, monkeypatch, "bounds", small_ckpt, *ARGS, *loss, "--json")
    assert stored.exit_code == 0, stored.stderr
    doc = json.loads(stored.stdout)
    recorded = doc["data"]["loss"]
    assert recorded.startswith("loss.py:Loss(reduction='mean', code=")
    report = tmp_path / "bounds.json"
    report.write_text(stored.stdout)
    gate = ("gate", small_ckpt, *ARGS, *loss, "--from", report, "--min-ratio", 0)
    assert _run(cli, monkeypatch, *gate).exit_code == 0  # its own loss
    doc["data"]["loss"] = "loss.py:Loss(reduction='mean')"  # as an older prunelimit recorded it
    older = tmp_path / "older.json"
    older.write_text(json.dumps(doc))
    (tmp_path / "loss.py").write_text(LOSS_OBJECT_PY.format(scale=0.1))
    refused = _run(cli, monkeypatch, *gate)
    assert refused.exit_code == 2, refused.stdout
    assert f"computed for another problem than this model: loss {recorded} vs loss.py:Loss(reduction='mean', " \
           "code=" in refused.stderr
    monkeypatch.setenv("COLUMNS", "200")
    read = _run(cli, monkeypatch, "gate", small_ckpt, *ARGS, *loss, "--from", older, "--min-ratio", 0)
    assert read.exit_code == 0 and f"{older} does not record its loss settings (an older report)" in read.output
