"""``prunelimit.api.limit``: the first-order warning of ``bounds`` on a one-weight model."""

from __future__ import annotations

import pytest
import torch

from prunelimit import api
from prunelimit.report.rounding import loss_text


def _one_weight_inputs(tmp_path, weight: float):
    """``y ≈ x`` fitted by ``y = w·x + b`` with ``w`` fixed at ``weight`` (one prunable weight)."""
    from prunelimit.inputs import load_inputs
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    state = build_model("mlp:1,1").state_dict()
    state = {k: torch.full_like(v, weight if k.endswith("weight") else 0.0) for k, v in state.items()}
    save_checkpoint(tmp_path / "one.pt", "mlp:1,1", state)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, 1, generator=gen)
    torch.save({"x": x, "y": x + 0.3 * torch.randn(256, 1, generator=gen)}, tmp_path / "d.pt")
    return load_inputs(tmp_path / "one.pt", data=f"tensors:{tmp_path / 'd.pt'}", loss="mse", batch_size=32,
                       device="cpu")


@pytest.mark.parametrize(("weight", "sign"), [(3.0, -1), (0.5, +1)])
def test_the_first_order_warning_states_the_change_with_its_direction(tmp_path, weight, sign) -> None:
    """At w = 3 (past the optimum w ≈ 1) removing w lowers the loss to first order by ~10;
    the warning read "changes the loss by -10.6 … more than ε", a negative number "more"
    than a positive one. Its size is what exceeds ε (docs/theory.md); a fall is stated as
    one, a rise as before."""
    rep = api.bounds(_one_weight_inputs(tmp_path, weight), api.CurvatureOptions(epsilon=0.01))
    assert rep.first_order is not None and (rep.first_order > 0.01 if sign > 0 else rep.first_order < -0.01)
    [warning] = [w for w in rep.warnings if "not at a minimum" in w]
    if sign > 0:
        assert f"changes the loss by {loss_text(rep.first_order, '+')} to first order, more than ε = 0.01," in warning
    else:
        assert f"lowers the loss by {loss_text(-rep.first_order)} to first order, a change larger than ε = 0.01" in warning
