"""A pruned checkpoint whose zip records are damaged where Python's ``zipfile`` raises what the
readers did not expect: a flipped byte in the zip64 locator made ``zipfile.is_zipfile`` raise
``BadZipFile`` ("zipfiles that span multiple disks are not supported") where it returns False for
other damage, one in the directory's "version needed to extract" made ``zipfile.ZipFile`` raise
``NotImplementedError`` ("zip file version 6.4"), and every reader stopped there."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from prunelimit import load_sparse
from prunelimit.cli import app
from prunelimit.errors import InputError
from prunelimit.io.checkpoint import save_checkpoint

_ZIP64_LOCATOR = b"PK\x06\x07"
_DIRECTORY_ENTRY = b"PK\x01\x02"


def _pruned_checkpoint(path):
    torch.manual_seed(0)
    weight = torch.randn(10, 64)
    keep = weight.abs() > 1
    save_checkpoint(path, "mlp:64,10", {"0.weight": weight * keep, "0.bias": torch.zeros(10)}, {"0.weight": keep})
    return bytearray(path.read_bytes())


@pytest.fixture
def damaged(tmp_path):
    """A pruned checkpoint (torch.save's zip, which torch writes with zip64 end records) whose
    locator names disk 1 as the one holding the zip64 end record: one flipped bit."""
    path = tmp_path / "p.pt"
    data = _pruned_checkpoint(path)
    at = data.rindex(_ZIP64_LOCATOR)
    data[at + 4] ^= 1  # the number of the disk holding the zip64 end record, 0 in a file of one disk
    path.write_bytes(bytes(data))
    return path


def test_a_directory_entry_of_an_unknown_zip_version_is_named(tmp_path):
    """Its first entry says version 6.4 is needed to extract it (Python reads up to 6.3): it was an
    internal error (exit 5: "NotImplementedError: zip file version 6.4"). torch's reader ignores
    the version, so the file is refused rather than read past the checks of its declared sizes,
    which read the directory with Python's."""
    path = tmp_path / "p.pt"
    data = _pruned_checkpoint(path)
    at = data.index(_DIRECTORY_ENTRY)
    data[at + 6] = 64  # "version needed to extract", in tenths
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="is damaged: its zip directory asks for zip file version 6.4"):
        load_sparse(path)
    result = CliRunner().invoke(app, ["export", str(path), "-o", str(tmp_path / "m.safetensors")])
    assert result.exit_code == 3, result.output
    assert f"checkpoint {path} is damaged: its zip directory asks for zip file version 6.4" in result.stderr, \
        result.stderr
    assert "internal error" not in result.stderr


def test_export_names_the_damaged_checkpoint(damaged, tmp_path):
    """It was an internal error (exit 5: "BadZipFile: zipfiles that span multiple disks ...")."""
    out = tmp_path / "m.safetensors"
    result = CliRunner().invoke(app, ["export", str(damaged), "-o", str(out)])
    assert result.exit_code == 3, result.output
    assert f"checkpoint {damaged} is truncated" in result.stderr and "copy or save it again" in result.stderr
    assert "internal error" not in result.stderr and not out.exists()


def test_load_sparse_names_the_damaged_file(damaged):
    with pytest.raises(InputError, match="copy or save it again"):
        load_sparse(damaged)
