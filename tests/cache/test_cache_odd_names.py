"""Names that are no valid text (a file name's undecodable bytes, read by Python as lone
surrogates ``\\udcff``) in what the cache key reads: the key holds them, the run goes on and
a second run hits. Before, encoding them for the key raised UnicodeEncodeError: exit 5, or a
run that was never cached; and a ``--model`` file so named could not be imported at all."""

from __future__ import annotations

import json
import os
import sys

import pytest

ODD = os.fsdecode(b"o\xffd")  # 'o\udcffd': what Python makes of a file name that is not UTF-8

NET = """import importlib, os, torch
{head}
class Net(torch.nn.Sequential):
    def __init__(self):
        super().__init__(torch.nn.Linear(64, 4), torch.nn.ReLU(), torch.nn.Linear(4, 10))
{body}


def make():
    return Net()
"""
CASES = {
    # a helper module imported under a name with the byte (its file is named so)
    "module-name": ("helper = importlib.import_module(os.fsdecode(b'plodd\\xffhelper'))", ""),
    # a folder the code names holds a file so named (the key walks the folder)
    "file-in-a-named-folder": ("", "        self.where = 'plodd_data'"),
    # a buffer, and so a tensor name and an attribute, with the byte
    "buffer-name": ("", "        self.register_buffer(os.fsdecode(b's\\xff'), torch.ones(1), persistent=False)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_odd_names_are_keyed_and_the_run_hits(cli, own_ckpt, tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with open(os.fsencode(str(tmp_path)) + b"/plodd\xffhelper.py", "wb") as fh:
        fh.write(b"SCALE = 1\n")
    (tmp_path / "plodd_data").mkdir()
    with open(os.fsencode(str(tmp_path / "plodd_data")) + b"/\xff.txt", "wb") as fh:
        fh.write(b"1\n")
    head, body = CASES[case]
    model = tmp_path / f"plodd_{case.replace('-', '_')}.py"
    model.write_text(NET.format(head=head, body=body))
    args = ("spectrum", own_ckpt, "--model", f"{model}:make", "--cache-dir", tmp_path / "cache", "--json")
    try:
        first, second = cli(*args), cli(*args)
    finally:
        sys.modules.pop(os.fsdecode(b"plodd\xffhelper"), None)
    assert first.exit_code == 0 and second.exit_code == 0, (first.stderr, second.stderr)
    assert "not cached" not in first.stderr, first.stderr
    assert json.loads(first.stdout)["timing"]["cached"] is False and json.loads(second.stdout)["timing"]["cached"] is True


def test_a_model_file_named_with_an_undecodable_byte_loads(cli, own_ckpt, tmp_path):
    """`--model` naming such a file: imported and keyed (it was "could not import model file":
    its module name hashed the file name as UTF-8)."""
    path = os.fsdecode(os.fsencode(str(tmp_path)) + b"/net\xff.py")
    with open(path, "w") as fh:
        fh.write(NET.format(head="", body=""))
    args = ("spectrum", own_ckpt, "--model", f"{path}:make", "--cache-dir", tmp_path / "cache", "--json")
    first, second = cli(*args), cli(*args)
    assert first.exit_code == 0, first.stderr
    assert json.loads(second.stdout)["timing"]["cached"] is True


def test_text_bytes_keeps_names_apart():
    """Injective: a lone surrogate is not read as the text of its escape (``backslashreplace``
    would make 'a\\udcff' and the six characters 'a\\\\udcff' one name) nor dropped."""
    from prunelimit.cache_reads import text_bytes

    names = [ODD, "o\\udcffd", "od", "o?d", "o\ud800d", "o\xffd"]
    assert len({text_bytes(n) for n in names}) == len(names)
    assert text_bytes("plain") == b"plain"
