"""``prunelimit.api.layers``: --per-layer's blocks beside the spectrum's budgets."""

from __future__ import annotations

import pytest

from prunelimit import api
from prunelimit.api.layers import outside_budgets, spectrum_layers
from prunelimit.curvature.layers import BlockCost


@pytest.mark.parametrize(("budgets", "named"), [
    ({"max_hvps": 40}, "outside --max-hvps, which bounds"),
    ({"time_budget": 1e6}, "outside --time-budget, which bounds"),
    ({"max_hvps": 40, "time_budget": 1e6}, "outside --max-hvps and --time-budget, which bound"),
])
def test_blocks_past_a_given_budget_say_the_budget_did_not_bound_them(own_ckpt, budgets, named) -> None:
    """`bounds --per-layer --max-hvps 60` on a 99-parameter MLP: 59 products in timing, 99
    more in layer_curvature, and nothing said that the ceiling did not hold them. The blocks
    stay a fixed plan after the spectrum; one line now says so, with what they took."""
    from prunelimit.inputs import load_inputs

    inputs = load_inputs(str(own_ckpt), data="digits:train", batch_size=64, max_samples=300, device="cpu")
    options = api.CurvatureOptions(method="slq", tolerance=0.5, **budgets)
    rep = spectrum_layers(inputs, options, api.spectrum(inputs, options))
    said = [w for w in rep.warnings if w.startswith("--per-layer's blocks took")]
    assert len(said) == 1 and named in said[0] and f"{rep.layers.cost.hvps:,} products" in said[0]


@pytest.mark.parametrize(("options", "hvps"), [
    (api.CurvatureOptions(), 64),  # no budget given: nothing to say
    (api.CurvatureOptions(max_hvps=40), 0),  # exact blocks of a dense Hessian, or read back: no products
])
def test_no_line_where_no_budget_was_given_or_the_blocks_took_nothing(options, hvps) -> None:
    assert outside_budgets(options, BlockCost("lanczos", 32, 2, hvps, 0.5)) == ()
