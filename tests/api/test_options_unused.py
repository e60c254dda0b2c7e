"""``api.check_plan``: a setting the run would ignore is refused, naming it, for both readers."""

from __future__ import annotations

import pytest
import torch

import prunelimit
from prunelimit import api
from prunelimit.errors import OptionError


def test_eta_beside_no_bounds_is_refused_in_the_library() -> None:
    """``bound_mode="none"`` computes no bounds, the only use of η: an ``eta`` given beside it was
    ignored in silence (the result held no bounds and no word of η)."""
    with pytest.raises(OptionError, match="^eta has no effect: bound_mode='none' computes no bounds"):
        prunelimit.bounds(torch.nn.Linear(4, 3), (torch.randn(32, 4), torch.arange(32) % 3), bound_mode="none", eta=0.1)
    api.check_plan(api.CurvatureOptions(bound_mode="none"), {"bound_mode"})  # no eta given: nothing ignored
    api.check_plan(api.CurvatureOptions(eta=0.1), {"eta"})  # bounds computed: η read


def test_eta_beside_no_bounds_is_refused_on_the_command_line(cli) -> None:
    result = cli("bounds", "no-such-checkpoint.pt", "--bound-mode", "none", "--eta", "0.1")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "--eta has no effect: --bound-mode none computes no bounds" in result.stderr
    assert "Traceback" not in result.stderr
