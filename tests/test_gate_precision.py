"""Reports record the float precision they were computed at (``precision``: the device type
and torch's float settings, as the result cache keys them), and a ``--max-drop`` line names
the settings that differ from the baseline's: a TF32 GPU run could not be told from a CPU
baseline. No GPU here: the setting is faked by ``torch.set_float32_matmul_precision``, which
a CPU's products ignore (the ratios stay equal), restored after."""

from __future__ import annotations

import json

import pytest
import torch

from prunelimit.baseline import precision_difference

FAST = ("--method", "exact", "--max-samples", "300", "--no-cache", "--threads", "1")


@pytest.fixture
def high_matmul():
    """float32 matmuls allowed TF32 (``high``), as a GPU gate might run them; restored after."""
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    yield
    torch.set_float32_matmul_precision(before)


def _gate_reason(cli, ckpt, baseline) -> str:
    run = cli("gate", ckpt, "--baseline", baseline, "--max-drop", "0", "--json", *FAST)
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout)["rules"][0]["reason"]


def test_a_report_records_its_precision_and_the_drop_line_names_another(cli, own_ckpt, tmp_path, request) -> None:
    stored = cli("bounds", own_ckpt, "--json", *FAST)
    assert stored.exit_code == 0, stored.stderr
    doc = json.loads(stored.stdout)
    assert doc["precision"]["device"] == "cpu" and doc["precision"]["matmul"] == torch.get_float32_matmul_precision()
    baseline = tmp_path / "baseline.json"
    baseline.write_text(stored.stdout)
    assert "float precision" not in _gate_reason(cli, own_ckpt, baseline)  # the same settings: nothing named
    request.getfixturevalue("high_matmul")
    reason = _gate_reason(cli, own_ckpt, baseline)
    # the one setting moves torch's derived TF32 switches too: the first three named, the rest counted
    assert "(at another float precision than the baseline: matmul high vs highest; " in reason, reason
    older = tmp_path / "older.json"  # written before reports recorded it: nothing to compare
    older.write_text(json.dumps({key: value for key, value in doc.items() if key != "precision"}))
    assert "float precision" not in _gate_reason(cli, own_ckpt, older)


def test_the_differences_named_are_few_and_this_runs_first() -> None:
    now = {"device": "cuda", "matmul": "high", "cuda_matmul_tf32": True, "fp32_precision_cuda_matmul": "tf32"}
    then = {"device": "cpu", "matmul": "highest", "cuda_matmul_tf32": False, "fp32_precision_cuda_matmul": "ieee"}
    assert precision_difference(now, then) == ("device cuda vs cpu; matmul high vs highest; cuda_matmul_tf32 True "
                                               "vs False; 1 more")
    assert precision_difference(now, dict(now)) == "" and precision_difference(now, None) == ""
