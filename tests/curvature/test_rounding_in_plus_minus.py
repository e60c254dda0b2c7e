"""ρ*'s ± holds the products' rounding (``prediction.uncertainty.rounding``), end to end.

A least-squares fit to zero loss (ε ≈ 1e-15) has ρ* decided by eigenvalues below float32
rounding: SLQ stated ρ* = 1.5 % ± 0.2 pt on every seed against the exact spectrum's 64.6 %,
and only a warning said that rounding could move it. Its ± now holds that reach, so it
covers the exact ρ*; adaptive SLQ, which no step or probe brings under it, stops at once.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

import prunelimit
from prunelimit.report.rounding import half_width_text


def _interpolating_linear_model(inputs: int = 40):
    """A linear least-squares fit of 8 samples with ``2·inputs`` weights: zero loss to
    float32 rounding, and a Hessian of rank 16 whose null space is 0 in exact arithmetic."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, inputs, generator=g), torch.randn(8, 2, generator=g)
    model = nn.Linear(inputs, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(x.double(), y.double()).solution.T.float())
    return model, (x, y)


def test_slq_plus_minus_covers_the_exact_ratio_of_a_zero_loss_fit() -> None:
    """Four seeds: float32 SLQ's ρ* (≈ 0.015) misses this float32 fit's exact 0.769 by
    ~0.75; its ± now holds the rounding part (≈ 0.76–0.81), so it covers it on every seed
    (before: ± ≤ 0.004, 4 misses of 4). Adaptive SLQ (default --tolerance 0.01, below that
    part) stops its float32 runs at the first stage, "rounding", for float64 runs, which
    nothing follows: they narrow their steps and probe parts, here to the exact spectrum of
    float64 products (one run of D = 80), far inside --max-hvps."""
    model, data = _interpolating_linear_model()
    exact = prunelimit.bounds(model, data, loss="mse", method="exact", batch_size=4).ratio
    for seed in range(4):
        result = prunelimit.bounds(model, data, loss="mse", method="slq", seed=seed, batch_size=4, max_hvps=1600)
        u = result.uncertainty
        assert u.rounding is not None and u.rounding > 0.01
        assert abs(result.ratio - exact) <= u.plus_minus
        assert result.spectrum.stopped_by == "converged" and result.spectrum.hvps < 1600 / 8
        assert u.plus_minus == u.rounding  # the float64 products' exact spectrum: no steps or probe part
        missed = [w for w in result.warnings if "is not within the tolerance" in w]
        assert len(missed) == 1 and "rounding" in missed[0] and "epsilon" in missed[0]


def test_the_exact_spectrum_states_its_float64_rounding_part_only_where_it_reaches() -> None:
    """At ε from the fit's losses (1.1e-15) the exact spectrum's null space is float64 noise that
    still counts: its ± is that part alone (≈ 0.53), no longer 0. At --epsilon 0.01 nothing
    below float64 rounding matters: ± 0 exactly, as every ordinary exact result states."""
    model, data = _interpolating_linear_model()
    auto = prunelimit.bounds(model, data, loss="mse", method="exact", batch_size=4)
    assert auto.uncertainty.rounding is not None and auto.uncertainty.rounding > 0.1
    assert auto.uncertainty.plus_minus == auto.uncertainty.rounding  # no other part
    given = prunelimit.bounds(model, data, loss="mse", method="exact", batch_size=4, epsilon=0.01)
    assert given.uncertainty.rounding is None and given.uncertainty.plus_minus == 0.0
    # --scope layer solves the layer-wise path's ρ* from the same spectrum: its own part
    layer = prunelimit.bounds(model, data, loss="mse", method="exact", batch_size=4, scope="layer")
    assert layer.uncertainty.rounding is not None and layer.uncertainty.plus_minus == layer.uncertainty.rounding


@pytest.fixture
def saved_model(tmp_path):
    model, (x, y) = _interpolating_linear_model()
    (tmp_path / "lin.py").write_text("import torch.nn as nn\n\ndef lin():\n    return nn.Linear(40, 2, bias=False)\n")
    torch.save(model.state_dict(), tmp_path / "lin.pt")
    torch.save({"x": x, "y": y}, tmp_path / "data.pt")
    return (tmp_path / "lin.pt", "--model", f"{tmp_path / 'lin.py'}:lin", "--data", f"tensors:{tmp_path / 'data.pt'}",
            "--loss", "mse", "--batch-size", "4", "--threads", "1")


def test_a_stored_spectrum_states_the_rounding_part_for_the_epsilon_that_reads_it(cli, tmp_path,
                                                                                  saved_model) -> None:
    """A fixed plan's spectrum is stored once and solved again for each --epsilon: the part
    is that ε's (none at 0.01, the first run's again at auto), and bounds, spectrum, verify
    and gate, read from the store, state the same ± and part. Before, only the warning was
    made again; the ± left the part out whatever the ε."""
    plan = (*saved_model, "--runs", "3", "--iterations", "20", "--cache-dir", tmp_path / "cache")
    stated = []
    for command, epsilon in (("bounds", ()), ("bounds", ("--epsilon", "0.01")), ("spectrum", ()), ("verify", ()),
                             ("gate", ("--min-ratio", "0.001")), ("bounds", ())):
        result = cli(command, *plan, *epsilon, "--json")
        assert result.exit_code in ((0, 1) if command == "gate" else (0,)), result.stderr
        doc = json.loads(result.stdout)
        stated.append((doc["bounds"] if command == "gate" else doc)["prediction"]["uncertainty"])
    first, other, *again = stated
    assert first["rounding"] > 0.01 and first["plus_minus"] >= first["rounding"]
    assert other["rounding"] is None and other["plus_minus"] < first["rounding"]
    assert all(u == first for u in again)


def test_gate_and_verify_read_a_report_from_before_the_rounding_part(cli, tmp_path, saved_model) -> None:
    """A bounds report whose ``prediction.uncertainty`` has no ``rounding`` key (older
    versions) still reads: ``gate --from`` subtracts the ± it states, ``verify --from``
    takes it; the report stating the part gates on the wider ± and names its remedy."""
    plan = (*saved_model, "--runs", "3", "--iterations", "20", "--cache-dir", tmp_path / "cache")
    result = cli("bounds", *plan, "--json")
    assert result.exit_code == 0, result.stderr
    new = json.loads(result.stdout)
    old = json.loads(result.stdout)
    u = old["prediction"]["uncertainty"]
    del u["rounding"]
    u["plus_minus"] -= new["prediction"]["uncertainty"]["rounding"]  # the ± an older version stated
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    half = new["prediction"]["ratio"] / 2
    gated = {}
    for name in ("old", "new"):
        result = cli("gate", *saved_model, "--from", tmp_path / f"{name}.json", "--use", "predicted",
                     "--min-ratio", f"{half:.6f}", "--json")
        assert result.exit_code in (0, 1), result.stderr
        gated[name] = json.loads(result.stdout)
    assert gated["old"]["passed"] is True  # the older, narrower ± clears half of ρ*
    assert gated["new"]["passed"] is False and gated["new"]["rules"][0]["compared"] == 0.0
    # ρ* clears it, its ± does not: the fix narrows the part that decides (no --tolerance does)
    fix = gated["new"]["rules"][0]["fix"]
    assert "rounding" in fix and "--epsilon" in fix and "--tolerance" not in fix
    result = cli("verify", *saved_model, "--from", tmp_path / "old.json", "--json")
    assert result.exit_code == 0, result.stderr
    restated = json.loads(result.stdout)["prediction"]["uncertainty"]
    # the same ±, rebuilt from its parts (to float rounding of their sum), and no rounding part
    assert restated["rounding"] is None and restated["plus_minus"] == pytest.approx(u["plus_minus"], rel=1e-12)


def test_the_rounding_part_does_not_hide_a_gap_between_the_paper_and_the_continuous_ratio() -> None:
    """--method paper on the zero-loss fit: the grid ρ* (0.999) and the continuous one
    (0.547) are solved from the same nodes, so the rounding part (≈ 0.80), which moves both
    alike, explains none of their gap: the warning compares it with the rest of the ± (the
    grid's 0.0005: the paper's 128 steps span this 80-weight Hessian of rank 16, the exact
    spectrum, ``test_fixed_plan_spans.py``) and says so, where the whole ± all but covered it."""
    model, data = _interpolating_linear_model()
    result = prunelimit.bounds(model, data, loss="mse", method="paper", batch_size=4)
    u = result.uncertainty
    assert u.rounding is not None and u.rounding > 0.5
    gap = [w for w in result.warnings if w.startswith("INCONSISTENT: the headline")]
    assert len(gap) == 1
    rest = u.plus_minus - u.rounding  # the ± is below its cap of 1 here: the parts add up to it
    # in points, as ρ*'s line states its ± and its parts
    assert f"apart from its products' rounding part ({half_width_text(100 * u.rounding)} pt, which moves both alike), " \
        f"is {half_width_text(100 * rest)} pt" in gap[0]  # below the floor the gap is judged against


def test_a_gate_finds_a_paper_ratio_off_its_grid_by_the_rest_of_the_plus_minus() -> None:
    """A paper report whose grid ρ* lies 0.2 from the continuous one, with a ± of 0.56 of
    which 0.5 is the rounding part: the gap is the reference arithmetic's, not rounding's,
    so the ± is incomplete (before, the whole ± covered the gap and the rule was judged)."""
    from prunelimit.gate_rules import margin
    from prunelimit.theory.uncertainty import Uncertainty

    u = Uncertainty(probes=0.02, steps=0.01, data=None, runs=1, probes_kind="bound", grid=0.0005, rounding=0.5)
    report = {"prediction": {"ratio": 0.9, "continuous_ratio": 0.7, "uncertainty": u.to_json(),
                             "reference_density": {"aliased": False, "weight_moved": 0.0}}}
    pm, missing, _ = margin(report)
    assert pm is None and "0.2000 from the continuous" in missing
    report["prediction"]["continuous_ratio"] = 0.88  # within the rest (≈ 0.06): judged on the whole ±
    assert margin(report)[0] == pytest.approx(u.plus_minus, abs=1e-15)


def test_a_float64_model_is_told_to_widen_epsilon_not_to_use_float64() -> None:
    """The same fit in float64: SLQ's products are float64 already and ε (1e-31) is at the
    loss's rounding, so the part is float64's and the remedy the tolerance warning puts
    first is a larger ε (before: "needs float64 products", which it had)."""
    model, (x, y) = _interpolating_linear_model()
    model = model.double()
    x, y = x.double(), y.double()
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(x, y).solution.T)
    result = prunelimit.bounds(model, (x, y), loss="mse", method="slq", batch_size=4)
    assert result.spectrum.stopped_by == "rounding" and result.uncertainty.rounding is not None
    note = [w for w in result.warnings if "products' rounding:" in w]
    assert len(note) == 1 and "float64 products' rounding" in note[0] and "larger epsilon" in note[0]
    missed = [w for w in result.warnings if "is not within the tolerance" in w]
    assert len(missed) == 1 and "which needs a larger epsilon" in missed[0]


@pytest.mark.parametrize("seed", range(3))
def test_a_float64_model_near_zero_loss_narrows_its_other_parts(seed: int) -> None:
    """The float32 fit given in float64 (ε 9.6e-17 from its float64 losses): no float64
    re-run can narrow its float64 rounding part (0.70–0.76), yet the runs stopped at their
    first stage, "rounding", their probe part 0.10–0.14 of a ± of 0.80–0.91, the default
    1,600 products all but unspent. They now aim their steps and probe parts at the tolerance
    (0.01): here one run goes on to D = 80, the exact spectrum of float64 products, with no
    steps or probe part (± 0.77). The exact ρ* (float64, 64.63 %) is within the ± (coverage
    itself: no tolerance added)."""
    model, (x, y) = _interpolating_linear_model()
    model, data = model.double(), (x.double(), y.double())
    exact = prunelimit.bounds(model, data, loss="mse", method="exact", batch_size=4).ratio
    result = prunelimit.bounds(model, data, loss="mse", method="slq", seed=seed, batch_size=4)
    u = result.uncertainty
    assert u.rounding is not None and u.plus_minus - u.rounding <= 0.01
    assert result.spectrum.hvps < 1600 / 8
    assert abs(result.ratio - exact) <= u.plus_minus
