"""`text_start` tells a text file given as a checkpoint or as tensors (torch reads it as a
protocol-0 pickle, whose opcodes are letters) from a real protocol-0 pickle, which it leaves to
torch's reader, and from binary files."""

from __future__ import annotations

import pickle

from prunelimit.io.checkpoint import text_start


def test_a_csv_is_text_named_by_its_first_line(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("density,gamma\n0.5,1\n")
    assert text_start(path) == "density,gamma"


def test_a_long_first_line_is_shortened(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"column{i}" for i in range(20)) + "\n")
    assert text_start(path) == "column0,column1,column2,column3,column4,…"


def test_a_protocol_0_pickle_is_not_text(tmp_path):
    path = tmp_path / "p0.pkl"
    path.write_bytes(pickle.dumps({"density": [0.5, 0.25], "gamma": "high"}, protocol=0))
    assert path.read_bytes().isascii()  # text to the eye, a pickle to torch
    assert text_start(path) is None


def test_binary_files_are_not_text(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(b"\xff\xfe\x00\x81" * 64)
    assert text_start(path) is None
    path.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    assert text_start(path) is None
