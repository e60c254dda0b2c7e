"""A relative cache folder (``--cache-dir cache``, ``PRUNELIMIT_CACHE_DIR=cache``) is the one in
the working folder the command started in, even when the user's model code changes the working
folder (a factory that ``os.chdir``s to its own folder to read its files): entries are written
to and read from the folder that was checked, so the next run finds them."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

MODEL = '''
import os
from torch import nn

def make():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "elsewhere"))
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))
'''


@pytest.mark.parametrize("named_by", ["option", "variable"])
def test_a_relative_cache_folder_survives_model_code_that_changes_folder(cli, tmp_path, monkeypatch, named_by):
    monkeypatch.chdir(tmp_path)  # and back after the test: the factory moves this process elsewhere
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "models.py").write_text(MODEL)
    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Flatten(), nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10)).state_dict(), "w.pt")
    where = ("--cache-dir", "cache") if named_by == "option" else ()
    if named_by == "variable":
        monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", "cache")

    def gate() -> dict:
        monkeypatch.chdir(tmp_path)
        result = cli("gate", "w.pt", "--model", "models.py:make", "--data", "digits:train", "--max-samples", "300",
                     "--min-ratio", "0", "--use", "predicted", "--json", *where)
        assert result.exit_code == 0, result.stderr
        assert "could not write cache entry" not in result.stderr
        return json.loads(result.stdout)

    first, second = gate(), gate()
    assert (first["cache_hit"], second["cache_hit"]) == (False, True)
    assert second["bounds"]["prediction"] == first["bounds"]["prediction"]
    # the spectrum and the overshoot check beside it
    assert len(list((tmp_path / "cache").glob("*.entry"))) == 2 and not (tmp_path / "elsewhere" / "cache").exists()
