"""``load_sparse`` on files that are not sparse exports: each is named for what it is, with the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunelimit import load_sparse
from prunelimit.errors import InputError


def test_a_torch_checkpoint_is_named_as_one_with_the_export_that_makes_it_readable(tmp_path):
    """It said "is not a readable safetensors file (SafetensorError: Error while deserializing:
    header too large)": the parser's words on the first bytes of a zip, and no fix."""
    path = tmp_path / "pruned.pt"
    torch.save({"0.weight": torch.ones(2, 2)}, path)
    with pytest.raises(InputError) as error:
        load_sparse(path)
    message = str(error.value)
    assert "is a PyTorch file (torch.save's format), not a sparse export" in message, message
    assert f"prunelimit export {path} -o" in message and "SafetensorError" not in message, message


def test_a_numpy_archive_is_named_as_one(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, w=np.ones(3))
    with pytest.raises(InputError, match=r"is a NumPy file, not a sparse export"):
        load_sparse(path)


def test_an_empty_file_is_named_empty(tmp_path):
    """It said "is truncated: it ends after 0 bytes, inside the opening of torch.save's format",
    naming a format a sparse file never has."""
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"")
    with pytest.raises(InputError) as error:
        load_sparse(path)
    assert str(error.value) == f"sparse file {path} is empty; export it again", str(error.value)
