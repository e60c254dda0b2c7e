"""ρ* that depends on eigenvalues below the products' rounding (``rounding_reach``).

A model fitted to zero loss has ε (the std of per-batch losses) near 1e-15, so R²/2ε is so
large that float32 rounding noise in the Hessian's null space (Ritz values of ~1e-8·λmax)
counts as curvature: SLQ in float32 then stated ρ* ≈ 0.015 ± 0.002 where the exact float64
spectrum gives 0.645, and nothing said so. The bracket and the probe part bound the
operator the products apply, not the rounding of the products, so how far that rounding
reaches is the ±'s rounding part (``Uncertainty.rounding``), and a warning names it.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn

import prunelimit
from prunelimit.theory.profile import MagnitudeProfile
from prunelimit.theory.uncertainty import SOLVE_ROUNDING, rounding_reach


def _interpolating_linear_model():
    """A linear least-squares fit of 8 samples with 80 weights: zero loss to float32
    rounding, and a Hessian of rank 16 whose null space is exactly 0 in exact arithmetic."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 40, generator=g), torch.randn(8, 2, generator=g)
    model = nn.Linear(40, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(x.double(), y.double()).solution.T.float())
    return model, (x, y)


def test_rounding_reach_of_a_closed_form_quadrature() -> None:
    """Nodes 1 (weight 0.3) and 1e-9 (0.7), products with machine epsilon 1e-7: the node at
    1e-9 lies below the floor (1e-7 + 8 float64 epsilons for the solve)·1, so F may move by
    0.7·(1 − f(floor)), f = 2ε/(2ε + λR²)."""
    profile = MagnitudeProfile.from_tensors([torch.linspace(0.01, 1.0, 100, dtype=torch.float64)])
    quad = SimpleNamespace(nodes=np.array([[1.0, 1e-9]]), weights=np.array([[0.3, 0.7]]))
    radius_sq = profile.radius_continuous(0.5) ** 2
    floor = 1e-7 + SOLVE_ROUNDING * float(np.finfo(np.float64).eps)  # and the float64 solve's rounding
    for epsilon in (1e-12, 1e-8, 1e-3):
        f = 2 * epsilon / (2 * epsilon + floor * radius_sq)
        assert rounding_reach(profile, quad, epsilon, 0.5, 1e-7) == pytest.approx(0.7 * (1 - f), rel=1e-12)
    # a node above the floor is resolved: nothing is added for it
    above = SimpleNamespace(nodes=np.array([[1.0, 1e-6]]), weights=np.array([[0.3, 0.7]]))
    assert rounding_reach(profile, above, 1e-12, 0.5, 1e-7) == 0.0


def test_float32_slq_on_a_zero_loss_fit_warns_that_rounding_decides_its_ratio() -> None:
    """Four seeds: the float32 SLQ ρ* misses the exact float64 one by far more than its
    steps and probe parts (0.015 against 0.645, those ≤ 0.005), and each run warns, with a
    reach that covers the miss and is its ±'s rounding part. Before, the run ended with no
    word of it; then the warning said the ± did not hold it. A product budget with no room
    for float64 runs (twice the float32 runs' 60 products) keeps the float32 answer."""
    model, data = _interpolating_linear_model()
    exact = prunelimit.bounds(model, data, loss="mse", method="exact", batch_size=4).ratio
    for seed in range(4):
        result = prunelimit.bounds(model, data, loss="mse", method="slq", seed=seed, batch_size=4, max_hvps=100)
        miss = abs(result.ratio - exact)
        u = result.uncertainty
        assert miss > u.plus_minus - u.rounding  # the steps and probe parts alone do not hold it
        notes = [w for w in result.warnings if "products' rounding:" in w]
        assert len(notes) == 1 and "method='exact'" in notes[0] and "stated in its ±" in notes[0]
        reach = rounding_reach(result.profile, result.spectrum.quadrature, result.epsilon, result.ratio,
                               torch.finfo(torch.float32).eps)
        assert u.rounding == reach and miss <= u.plus_minus


def test_slq_on_a_zero_loss_fit_runs_again_on_float64_products_and_names_the_fix_that_then_applies() -> None:
    """With room for it, the float32 runs' rounding part makes adaptive SLQ run again on
    float64 products; at ε ≈ 1e-15 (a loss of zero) float64's rounding still decides ρ* (as
    the exact spectrum's, reach 0.53). Nothing follows the float64 runs, so they narrow their
    steps and probe parts (here one run to D = 80: the float64 products' exact spectrum, ± its
    rounding part alone; before, they stopped at their first stage, probe part 0.09); their ±
    holds the exact ρ*, and the note is float64's, naming a larger ε, not float64 products."""
    model, data = _interpolating_linear_model()
    exact = prunelimit.bounds(model, data, loss="mse", method="exact", batch_size=4).ratio
    result = prunelimit.bounds(model, data, loss="mse", method="slq", seed=0, batch_size=4)
    assert result.spectrum.quadrature.float64_products and result.spectrum.stopped_by == "converged"
    assert result.uncertainty.plus_minus == result.uncertainty.rounding
    assert abs(result.ratio - exact) <= result.uncertainty.plus_minus
    notes = [w for w in result.warnings if "products' rounding:" in w]
    assert len(notes) == 1 and "float64 products' rounding" in notes[0] and "epsilon" in notes[0]
    reach = rounding_reach(result.profile, result.spectrum.quadrature, result.epsilon, result.ratio,
                           torch.finfo(torch.float64).eps)
    assert result.uncertainty.rounding == reach


def test_no_warning_where_the_rounding_cannot_move_the_ratio() -> None:
    """The same model at ε = 0.01: R²/2ε is small, eigenvalues below float32 rounding count
    as flat either way (reach < 1e-3): no warning."""
    model, data = _interpolating_linear_model()
    result = prunelimit.bounds(model, data, loss="mse", method="slq", epsilon=0.01, batch_size=4)
    assert not [w for w in result.warnings if "products' rounding" in w]


def test_the_exact_spectrum_warns_where_float64_rounding_decides_its_ratio() -> None:
    """The same fit's exact spectrum: ε from float64 losses is 1e-16, and its null space's
    float64 eigenvalues (~1e-16·λmax, rounding as well) still count as curvature: its ρ* of
    0.645 ± 0 is float64 rounding's too (reach 0.47), and it now says so."""
    model, data = _interpolating_linear_model()
    result = prunelimit.bounds(model, data, loss="mse", method="exact", batch_size=4)
    notes = [w for w in result.warnings if "float64 products' rounding" in w]
    assert len(notes) == 1 and "epsilon" in notes[0]


def test_a_stored_spectrum_solved_again_for_another_epsilon_warns_for_that_epsilon(cli, tmp_path) -> None:
    """A fixed plan's stored spectrum is solved again for another --epsilon on a cache hit:
    the warning, which depends on ε, is made for the ε of the run that reads it, never the
    stored one's (ε auto warns, --epsilon 0.01 does not, and auto again warns)."""
    model, (x, y) = _interpolating_linear_model()
    (tmp_path / "lin.py").write_text("import torch.nn as nn\n\ndef lin():\n    return nn.Linear(40, 2, bias=False)\n")
    torch.save(model.state_dict(), tmp_path / "lin.pt")
    torch.save({"x": x, "y": y}, tmp_path / "data.pt")
    common = (tmp_path / "lin.pt", "--model", f"{tmp_path / 'lin.py'}:lin", "--data", f"tensors:{tmp_path / 'data.pt'}",
              "--loss", "mse", "--batch-size", "4", "--runs", "3", "--iterations", "20", "--threads", "1",
              "--cache-dir", tmp_path / "cache")
    warned = []
    for epsilon in ((), ("--epsilon", "0.01"), ()):
        result = cli("bounds", *common, *epsilon)
        assert result.exit_code == 0, result.output
        warned.append("float32 products' rounding" in " ".join(result.output.split()))
    assert warned == [True, False, True]
