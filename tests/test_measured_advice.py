"""A command that measures the one-shot limit itself is not told to go and measure it: the
overshoot warning of a plainly trained model ended in "gate on the measured limit (`gate --use
actual`) or check with `prunelimit verify`" in ``verify``'s own output and in a gate whose
policy already has a rule on the measured limit."""

from __future__ import annotations

import json

import pytest
import torch

from prunelimit.data.spec import load_dataset
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model
from tests.conftest import sgd_fit

SPEC = "mlp:64,8,10"
FAST = ("--max-samples", "300", "--threads", "1", "--method", "exact")
MEASURE = "gate on the measured limit (`gate --use actual`) or check with `prunelimit verify`"


@pytest.fixture
def plain_ckpt(tmp_path):
    """An MLP trained plainly (SGD, no l1) for 300 steps: ρ_L and ρ* overshoot its one-shot
    limit (tests/api/test_bounds_overshoot.py's "plain" case)."""
    data = load_dataset("digits:train", max_samples=300)
    torch.manual_seed(0)
    model = sgd_fit(build_model(SPEC), data.x, data.y, steps=300, seed=1)
    return save_checkpoint(tmp_path / "plain.pt", SPEC, model.state_dict(), meta={"data": "digits:train"})


def _overshoot(warnings: list[str]) -> str:
    (warning,) = [w for w in warnings if "the prediction overshoots" in w]
    return warning


def test_verify_and_a_gate_with_a_measured_rule_say_what_to_go_by(cli, plain_ckpt, tmp_path):
    bounds = json.loads(cli("bounds", plain_ckpt, *FAST, "--json").stdout)
    assert _overshoot(bounds["warnings"]).endswith(f"{MEASURE}, or train with l1 (`prunelimit train --l1 ...`)")

    verified = json.loads(cli("verify", plain_ckpt, *FAST, "--json").stdout)
    said = _overshoot(verified["warnings"])
    assert MEASURE not in said and "go by the actual limit measured here (`gate --use actual` gates on it)" in said

    policy = tmp_path / "gate.yaml"
    policy.write_text("gate:\n  rules:\n    - {name: floor, min_ratio: 0.1, use: lower}\n"
                      "    - {name: measured, min_ratio: 0.1, use: actual}\n")
    gated = cli("gate", plain_ckpt, *FAST, "--config", policy, "--json")
    assert gated.exit_code == 0, gated.output
    said = _overshoot(json.loads(gated.stdout)["warnings"])
    assert MEASURE not in said
    assert "go by rule 'measured' on the measured limit; rule 'floor' reads the prediction (use actual gates it " \
           "on the measured limit too)" in said


def test_verify_does_not_point_to_itself_where_nothing_overshoots(cli, own_ckpt):
    """An untrained model does not look l1-trained, yet ρ_L and ρ* − 5 points keep the loss: the
    warning ends "`prunelimit verify` measures it", which verify's own output said too."""
    bounds = json.loads(cli("bounds", own_ckpt, *FAST, "--json").stdout)
    (said,) = [w for w in bounds["warnings"] if "does not look l1-trained" in w]
    assert said.endswith("past the limit one-shot pruning reaches; `prunelimit verify` measures it")
    verified = json.loads(cli("verify", own_ckpt, *FAST, "--json").stdout)
    (said,) = [w for w in verified["warnings"] if "does not look l1-trained" in w]
    assert said.endswith("past the limit one-shot pruning reaches; the actual limit measured here is it")
