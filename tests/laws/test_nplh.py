"""NPLH recording and fit against closed forms, brute force and synthetic laws."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import InputError, UsageError
from prunelimit.laws.nplh import fit_nplh, iterative_densities, iterative_points, plot_nplh, static_points
from prunelimit.laws.points import LawPoints, read_points, write_points

ALPHA0, C = 1.5, 0.05  # γ spans ~0.46..4.6 over the default region, so ln c is well identified


def law_points(noise: float, seed: int, alpha1: float = 0.0) -> LawPoints:
    """Densities 0.9^k down to 5e-4, γ from the exact (quadratic) law, ln s jittered by ``noise``."""
    rng = np.random.default_rng(seed)
    u = np.linspace(-3.0, 3.0, 90)  # ln γ
    ln_s = math.log(C) - ALPHA0 * u - alpha1 * u * u
    keep = (ln_s <= 0) & (ln_s >= math.log(5e-4))
    ln_s = ln_s[keep] + noise * rng.standard_normal(keep.sum())
    return LawPoints.from_arrays(np.minimum(np.exp(ln_s), 1.0), np.exp(u[keep]))


def test_fit_recovers_law_with_one_percent_noise():
    fit = fit_nplh(law_points(0.01, seed=1))
    # 1 % noise on ln s over ~2 decades and ~30 points: SE of α0 ≈ 0.004 and of ln c ≈ 0.002,
    # so the task's 2 % tolerance is many standard errors wide.
    assert abs(fit.alpha0 / ALPHA0 - 1) < 0.02
    assert abs(fit.c / C - 1) < 0.02
    assert (fit.region_low, fit.region_high) == (0.005, 0.5) and not fit.region_auto
    dens = np.array(fit.points.density)
    assert fit.n_region == int(((dens >= 0.005) & (dens <= 0.5)).sum())
    assert fit.r2 > 0.999
    assert fit.alpha0_ci[0] <= ALPHA0 <= fit.alpha0_ci[1]
    assert fit.c_ci[0] <= C <= fit.c_ci[1]
    assert fit.quadratic is not None and not fit.quadratic.needed
    # held-out extrapolation one decade down with 1 % noise: errors of a few percent at most
    assert fit.heldout_error is not None and fit.heldout_error.max_rel_error < 0.05


def test_bootstrap_coverage_near_nominal():
    # 40 independent noisy data sets; a 95 % interval should cover α0 in ~38 of them.
    # Binomial SD ≈ 1.4 of 40, percentile bootstrap runs slightly narrow: require ≥ 33.
    covered = sum(
        (lambda f: f.alpha0_ci[0] <= ALPHA0 <= f.alpha0_ci[1])(fit_nplh(law_points(0.01, seed=s), n_boot=500, seed=s))
        for s in range(40)
    )
    assert covered >= 33


def _few_points(n: int, seed: int, alpha0: float = 1.5, c: float = 0.05, noise: float = 0.02) -> LawPoints:
    """``n`` points evenly spread in ln s over the default region, ln s jittered by ``noise``."""
    s = np.geomspace(0.5, 0.005, n)
    ln_s = np.log(s) + noise * np.random.default_rng(seed).standard_normal(n)
    return LawPoints.from_arrays(np.exp(ln_s), (c / s) ** (1 / alpha0))


@pytest.mark.parametrize("n", [6, 10])
def test_bootstrap_intervals_keep_their_coverage_on_few_points(n):
    # The plain percentile bootstrap covered α0 in 86 % (6 points) and 84 % (10 points) of
    # 100 draws, c in 80 % and 91 %: narrower than the 95 % it states. With the small-sample
    # widening it covers 95–99 %. 100 draws: binomial SD ≈ 2.2 points at 95 %, so ≥ 90 %
    # fails a calibrated interval about 1 time in 100 and the old one every time.
    fits = [fit_nplh(_few_points(n, seed), n_boot=500, seed=seed) for seed in range(100)]
    assert sum(f.alpha0_ci[0] <= 1.5 <= f.alpha0_ci[1] for f in fits) >= 90
    assert sum(f.c_ci[0] <= 0.05 <= f.c_ci[1] for f in fits) >= 90


def test_the_fit_does_not_depend_on_the_order_of_the_rows():
    # the bootstrap draws points by position, so a shuffled file gave other intervals
    pts = _few_points(20, seed=0)
    perm = np.random.default_rng(1).permutation(len(pts))
    shuffled = LawPoints.from_arrays(np.array(pts.density)[perm], np.array(pts.gamma)[perm])
    a, b = fit_nplh(pts).to_json(), fit_nplh(shuffled).to_json()
    assert a.pop("points") != b.pop("points")  # given as given, in their own order
    assert a == b


def test_points_the_law_cannot_produce_are_refused_or_flagged():
    # the library refuses what the CSV reader refuses (it fitted a density of 1.5 and dropped NaN silently)
    for density, gamma, message in [(1.5, 1.0, "density 1.5 is not a fraction"), (math.nan, 1.0, "density nan"),
                                    (0.5, math.inf, "gamma inf is not a positive number")]:
        with pytest.raises(UsageError, match=message):
            LawPoints.from_arrays([0.4, density], [2.0, gamma])
    # density rising with gamma: no minimum kept saliency does that (it was a fit with α0 = −1)
    with pytest.raises(UsageError, match="density rises with gamma"):
        fit_nplh(LawPoints.from_arrays([0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0]))
    # repeated rows and a step up are fitted, and said
    fit = fit_nplh(LawPoints.from_arrays([0.4, 0.4, 0.3, 0.2, 0.25, 0.1], [2.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    assert len(fit.warnings) == 2 and "1 point(s) in the fit region repeat" in fit.warnings[0]
    assert "1 of 5 steps to a larger gamma" in fit.warnings[1]
    assert fit.to_json()["warnings"] == list(fit.warnings)
    assert fit_nplh(law_points(0.0, seed=0)).warnings == ()


def test_exact_law_and_loo_against_brute_force():
    pts = law_points(0.0, seed=0)
    fit = fit_nplh(pts)
    assert fit.alpha0 == pytest.approx(ALPHA0, rel=1e-10) and fit.c == pytest.approx(C, rel=1e-10)
    assert fit.heldout_error.max_rel_error < 1e-9
    assert fit.gamma_for_density(0.1) == pytest.approx((C / 0.1) ** (1 / ALPHA0), rel=1e-12)
    # leave-one-out RMSE by n refits (the closed form uses the hat matrix)
    noisy = law_points(0.05, seed=3)
    f = fit_nplh(noisy)
    d, g = noisy.arrays()
    m = (d >= 0.005) & (d <= 0.5)
    x, y = np.log(g[m]), np.log(d[m])
    errs = [y[i] - np.polyval(np.polyfit(np.delete(x, i), np.delete(y, i), 1), x[i]) for i in range(x.size)]
    assert f.loo_rmse == pytest.approx(float(np.sqrt(np.mean(np.square(errs)))), rel=1e-9)


def test_quadratic_variant_exact_and_test_fires_on_curvature():
    exact = fit_nplh(law_points(0.0, seed=0, alpha1=0.15)).quadratic
    # noiseless quadratic data: the centred fit and its back-transform are exact (float64)
    assert exact.alpha0 == pytest.approx(ALPHA0, rel=1e-8)
    assert exact.alpha1 == pytest.approx(0.15, rel=1e-8)
    assert exact.c == pytest.approx(C, rel=1e-8)
    curved = fit_nplh(law_points(0.01, seed=2, alpha1=0.15)).quadratic
    assert curved.needed and curved.p_value < 1e-6
    linear = fit_nplh(law_points(0.01, seed=2)).quadratic
    assert not linear.needed and linear.p_value > 0.01


def test_auto_region_finds_power_law_middle():
    # three regions: slope 0.2 above 50 %, 1.5 in the middle, 3 below 0.5 % (continuous in ln s)
    u = np.linspace(-4.0, 6.0, 120)
    u1, u2 = (math.log(C) - math.log(0.5)) / ALPHA0, (math.log(C) - math.log(0.005)) / ALPHA0
    ln_s = math.log(C) - ALPHA0 * u
    ln_s = np.where(u < u1, math.log(0.5) - 0.2 * (u - u1), ln_s)
    ln_s = np.where(u > u2, math.log(0.005) - 3.0 * (u - u2), ln_s)
    ln_s += 0.01 * np.random.default_rng(0).standard_normal(u.size)
    keep = ln_s <= 0
    fit = fit_nplh(LawPoints.from_arrays(np.exp(ln_s[keep]), np.exp(u[keep])), region="auto")
    assert fit.region_auto
    # break points sit at data points (spacing ≈ 0.084 in ln γ, i.e. ≈ 13 % in density
    # at slope 1.5), so the detected bounds are within one grid step of the true knees
    assert fit.region_low == pytest.approx(0.005, rel=0.15)
    assert fit.region_high == pytest.approx(0.5, rel=0.15)
    assert abs(fit.alpha0 / ALPHA0 - 1) < 0.02


@pytest.mark.parametrize("seed", range(3))
def test_auto_region_is_not_drawn_into_a_curved_collapse(seed):
    # density 1 below γ ≈ 1.4e-3, the law s = 0.01·γ^-0.7 above it, and a collapse that curves
    # in log-log (s·e^(−3(γ−2)) past γ = 2), 1 % noise. Three straight segments fit the curved
    # collapse better than the plateau-to-law corner, so "the middle segment" was 5 points of
    # the collapse: alpha0 12.25, c 145, at densities 7e-8..1e-3.
    rng = np.random.default_rng(seed)
    gamma = np.geomspace(1e-4, 10, 60)
    density = np.minimum(0.01 * gamma ** -0.7, 1.0)
    density = np.where(gamma > 2, density * np.exp(-3 * (gamma - 2)), density)
    density = np.minimum(density * np.exp(0.01 * rng.standard_normal(gamma.size)), 1.0)
    fit = fit_nplh(LawPoints.from_arrays(density, gamma), region="auto")
    # within 2 %, as the law's fit at 1 % noise; the region within a grid step of the knees
    assert fit.alpha0 == pytest.approx(0.7, rel=0.02) and fit.c == pytest.approx(0.01, rel=0.1)
    assert fit.region_high < 1.0 and fit.region_low > 0.01 * 2 ** -0.7 * 0.5


def test_fit_rejects_bad_region_and_too_few_points():
    pts = law_points(0.01, seed=0)
    with pytest.raises(UsageError, match="low < high"):
        fit_nplh(pts, region=(0.5, 0.1))
    with pytest.raises(UsageError, match="widen the region"):
        fit_nplh(pts, region=(0.3, 0.31))
    with pytest.raises(UsageError, match="automatic region"):
        fit_nplh(LawPoints.from_arrays([0.5, 0.4, 0.3], [1.0, 2.0, 3.0]), region="auto")
    # four points, one gamma: the reason is the gamma, not a count (">= 3 needed" beside "4 points")
    with pytest.raises(UsageError, match="all 4 points .* have the same gamma"):
        fit_nplh(LawPoints.from_arrays([0.5, 0.4, 0.3, 0.2], [1.0] * 4), region=(0.1, 0.5))
    # four rows, two distinct points: a line through them fits exactly (R² 1, a zero-width interval)
    with pytest.raises(UsageError, match="only 2 distinct gamma values among the 4 points"):
        fit_nplh(LawPoints.from_arrays([0.2, 0.2, 0.2, 0.1], [0.02, 0.02, 0.02, 0.04]), region=(0.05, 0.5))
    import warnings

    with warnings.catch_warnings():  # three distinct gammas, repeated: a fit, and no numpy warning
        warnings.simplefilter("error")
        fit = fit_nplh(LawPoints.from_arrays([0.2, 0.2, 0.1, 0.05, 0.05], [0.02, 0.02, 0.04, 0.09, 0.09]),
                       region=(0.01, 0.5))
    assert fit.quadratic is None and 0.9 < fit.alpha0 < 1.0
    # four gammas, one density: α0 = 0 with an undefined R² is no law either
    with pytest.raises(UsageError, match="all 4 points have the same density 0.1: one density cannot fit"):
        fit_nplh(LawPoints.from_arrays([0.1] * 4, [1.0, 2.0, 3.0, 4.0]), region=(0.05, 0.5))
    # on a pure power law BIC keeps one segment: the automatic region is all points
    auto = fit_nplh(pts, region="auto")
    assert auto.n_region == len(pts) and abs(auto.alpha0 / ALPHA0 - 1) < 0.02


def test_static_points_match_brute_force_threshold():
    rng = np.random.default_rng(0)
    scores = rng.integers(1, 200, size=1000).astype(float)  # many ties on purpose
    pts = static_points(scores, q=0.9, min_density=0.005)
    n = scores.size
    order = np.argsort(scores, kind="stable")
    expected_kept = sorted({n - math.ceil((1 - 0.9**k) * n - 1e-9) for k in range(51)}, reverse=True)
    assert [round(d * n) for d in pts.density] == expected_kept
    for d, g in zip(pts.density, pts.gamma):
        kept = order[n - round(d * n):]  # brute force: the kept set of global pruning
        assert g == scores[kept].min() == np.sort(scores)[n - round(d * n)]


def test_iterative_magnitude_without_finetune_is_nested_global_pruning():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5))
    w = torch.cat([p.detach().abs().reshape(-1) for p in (model[0].weight, model[2].weight)]).numpy().copy()
    batch = (torch.zeros(2, 20), torch.zeros(2, dtype=torch.long))
    rec = iterative_points(model, [batch], lambda m, b: m(b[0]).sum(), rate=0.2, min_density=0.05,
                           finetune_steps=0)
    n, kept = w.size, w.size
    for d, g in zip(rec.points.density, rec.points.gamma):
        kept -= int(math.floor(0.2 * kept))
        assert round(d * n) == kept
        assert g == np.sort(w)[n - kept]  # smallest surviving magnitude, brute force
    assert rec.points.density[-1] <= 0.05
    zeros = int((model[0].weight == 0).sum() + (model[2].weight == 0).sum())
    assert zeros == n - kept  # the model is left pruned


def test_a_pruned_model_keeps_its_masks_in_iterative_and_static_points(tmp_path):
    # a model pruned to half: no point lies above its density, and fine-tuning revives nothing
    from prunelimit.api.laws import nplh
    from prunelimit.inputs import load_inputs
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.pruning.magnitude import prune_model

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 24), nn.ReLU(), nn.Linear(24, 10))
    start = prune_model(model, 0.5).masks
    x, y = torch.randn(64, 64), torch.arange(64) % 10
    rec = iterative_points(model, [(x, y)], cross_entropy_loss, rate=0.2, min_density=0.2, finetune_steps=3,
                           lr=0.5, masks=[start["0.weight"], start["2.weight"]])
    assert max(rec.points.density) == (888 - 177) / 1776  # 0.2 of the half it started with removed
    assert all(not (rec.masks[k] & ~start[k]).any() for k in start)
    save_checkpoint(tmp_path / "p.pt", "mlp:64,24,10", model.state_dict(), rec.masks)
    torch.save({"x": x, "y": y}, tmp_path / "d.pt")
    inputs = load_inputs(tmp_path / "p.pt", data=f"tensors:{tmp_path / 'd.pt'}", device="cpu")
    kept = sum(int(m.sum()) for m in rec.masks.values()) / sum(m.numel() for m in rec.masks.values())
    for mode in ("static", "iterative"):
        own = {"finetune_steps": 2} if mode == "iterative" else {}  # static refuses the iterative mode's settings
        fit = nplh(inputs, mode=mode, metric="gradient", region=(0.01, 0.5), **own)
        assert max(fit.points.density) <= kept + 1e-12, mode


def test_plot_is_written_atomically(tmp_path):
    fit = fit_nplh(law_points(0.01, seed=1, alpha1=0.1))
    out = plot_nplh(fit, tmp_path / "law.png", title="synthetic")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(tmp_path) == ["law.png"]  # no temporary file left behind


# --------------------------------------------------------------------------- CSV


def test_csv_round_trip_is_exact(tmp_path):
    pts = law_points(0.01, seed=4)
    path = write_points(pts, tmp_path / "pts.csv")
    assert path.read_text().splitlines()[0] == "density,gamma"
    assert read_points(path) == pts  # repr floats: bit-exact
    assert os.listdir(tmp_path) == ["pts.csv"]


@pytest.mark.parametrize(
    "body, message",
    [
        ("density,gamma\n0.5,1.0\n1.5,2.0\n", r"bad\.csv: row 3: density 1\.5 is not a fraction in \(0, 1\]"),
        ("density,gamma\n0,1.0\n", r"row 2: density 0\.0 is not a fraction"),
        ("density,gamma\n0.5,-1\n", r"row 2: gamma -1\.0 is not a positive number"),
        ("density,gamma\n0.5,abc\n", r"row 2: .*are not both numbers"),
        ("density,gamma\n0.5,nan\n", r"row 2: gamma nan"),
        ("density,saliency\n0.5,1\n", r"lacks column\(s\) \['gamma'\]"),
        ("density,gamma\n", r"no data rows"),
        # a row with a field more or less than the header (the extra one was ignored)
        ("density,gamma\n0.5,1.0\n0.4,2.0,7\n", r"bad\.csv: line 3 has 3 field\(s\) but the header has 2"),
        ("density,gamma\n0.5\n", r"line 2 has 1 field\(s\) but the header has 2"),
        # a column named twice: the last one's values were fitted
        ("density,gamma, gamma\n0.5,1.0,9\n", r"header names column\(s\) \['gamma'\] more than once"),
        # line numbers as an editor shows them, blank lines counted (it said row 3)
        ("density,gamma\n0.5,1.0\n\n0.4,abc\n", r"row 4: .*are not both numbers"),
    ],
)
def test_bad_csv_rows_name_file_and_row(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(InputError, match=message):
        read_points(path)


def test_missing_csv_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="nope.csv: cannot read"):
        read_points(tmp_path / "nope.csv")


def test_iterative_taylor_with_finetune_records_accuracy():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 8, generator=gen)
    y = (x[:, 0] + x[:, 1] > 0).long()
    batches = [(x[i : i + 50], y[i : i + 50]) for i in range(0, 200, 50)]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    rec = iterative_points(model, batches, cross_entropy_loss, metric="taylor", rate=0.3, min_density=0.1,
                           finetune_steps=5, eval_batches=batches)
    assert len(rec.accuracy) == len(rec.mean_kept) >= len(rec.points) >= 3
    assert all(a is not None and 0.0 <= a <= 1.0 for a in rec.accuracy)
    assert np.all(np.diff(rec.points.density) < 0)
    # fine-tuning keeps pruned weights at zero: the masks and the model agree
    assert all(bool((p[~m] == 0).all()) for p, m in zip((model[0].weight, model[2].weight), rec.masks.values()))


def test_to_json_carries_spec_keys_and_is_json():
    fit = fit_nplh(law_points(0.01, seed=1))
    doc = json.loads(json.dumps(fit.to_json(), allow_nan=False))  # strict JSON, no NaN/Inf
    assert {"alpha0", "c", "r2", "region", "alpha0_ci", "points"} <= doc.keys()
    assert doc["region"]["low"] == 0.005 and doc["region"]["high"] == 0.5
    assert len(doc["points"]) == len(fit.points) and doc["alpha0"] == fit.alpha0


def test_the_pressure_ladder_of_a_pruned_checkpoint_keeps_it_pruned(tiny_model, tmp_path):
    """Every gate started open, so a checkpoint pruned to half its weights recorded its
    first levels at density 1.0 (the pruned weights trained back). A pruned weight's gate
    now starts closed and the weight stays zero: no level keeps more than the checkpoint."""
    import prunelimit
    from prunelimit import api
    from prunelimit.inputs import load_inputs
    from tests.conftest import LIBRARY_SAMPLES, SPEC

    prunelimit.prune(tiny_model, 0.5).apply(tiny_model)
    path = tmp_path / "pruned.pt"
    torch.save(tiny_model.state_dict(), path)  # torch.nn.utils.prune's form
    inputs = load_inputs(path, model=SPEC, data="digits:train", max_samples=LIBRARY_SAMPLES)
    fit = api.nplh(inputs, mode="pressure", pressures=tuple(2.0 ** k for k in range(-6, 6)), epochs_per_level=2)
    assert max(fit.points.density) == 0.5 and min(fit.points.density) < 0.5


@pytest.mark.parametrize("call, message", [
    (lambda pts: fit_nplh([(0.5, 1.0), (0.25, 2.0), (0.125, 3.9)]),
     "^points must be a prunelimit.laws.points.LawPoints, got list; build it with LawPoints.from_arrays"),
    (lambda pts: fit_nplh(pts, n_boot=2.5), "^n_boot must be an integer, got 2.5; write 2 or 3$"),
    (lambda pts: fit_nplh(pts, n_boot=0), "^n_boot must be at least 1, got 0$"),
    (lambda pts: fit_nplh(pts, seed=-1), "^seed must be at least 0, got -1$"),
    (lambda pts: fit_nplh(pts, confidence=1.5), "^confidence must lie in \\(0, 1\\), got 1.5 \\(a percentage\\? 1.5 % is 0.015\\)$"),
    (lambda pts: fit_nplh(pts, quadratic_level=2), "^quadratic_level must lie in \\(0, 1\\), got 2 \\(a percentage\\? 2 % is 0.02\\)$"),
])
def test_bad_arguments_of_fit_nplh_name_the_argument(call, message):
    """A list was an AttributeError, n_boot=2.5 a TypeError, seed=-1 numpy's unnamed
    ValueError, quadratic_level=2 ran; n_boot and confidence shared one unnamed message."""
    with pytest.raises(UsageError, match=message):
        call(law_points(0.0, 0))


@pytest.mark.parametrize("gamma_scale", [1e-150, 1e150])
def test_law_at_any_gamma_scale_gives_its_parameters_back(gamma_scale):
    # α0 is scale-free; c scales by K^-α0 (here 1e105 or 1e-105, still a float)
    gamma = np.geomspace(1e-2, 1, 30)
    law = fit_nplh(LawPoints.from_arrays(0.01 * gamma ** -0.7, gamma * gamma_scale), n_boot=50)
    assert law.alpha0 == pytest.approx(0.7, rel=1e-9)
    assert law.c == pytest.approx(0.01 * gamma_scale ** 0.7, rel=1e-9)
    assert law.c_ci[0] <= law.c <= law.c_ci[1]


@pytest.mark.parametrize("gamma_scale", [1e-300, 1e300])
def test_a_law_constant_no_float_holds_is_refused_naming_the_fix(gamma_scale):
    # α0 = 2 at γ ~ 1e±300 puts ln c at ∓1380: c overflowed (internal error) or was 0 (useless law)
    gamma = np.geomspace(1, 10, 30)
    with pytest.raises(UsageError, match="divide the gamma column by one constant"):
        fit_nplh(LawPoints.from_arrays(0.01 * gamma ** -2.0, gamma * gamma_scale), region=(1e-6, 1.0), n_boot=50)


@pytest.mark.parametrize("density, gamma", [
    ((0.1, 0.05, 0.02), (0.5, 1.0, 2.0)),  # too few points: alpha0 1.16 in [-0.65, 2.97]
    ((0.3, 0.05, 0.2, 0.02, 0.1, 0.01), (0.1, 0.2, 0.4, 0.8, 1.6, 3.2)),  # noisy, non-monotone
])
def test_a_slope_the_points_do_not_pin_is_warned_of(density, gamma):
    """A fit whose alpha0 interval reaches 0 was printed as a law without a word."""
    fit = fit_nplh(LawPoints.from_arrays(density, gamma))
    assert fit.alpha0 > 0 and fit.alpha0_ci[0] <= 0
    assert any("interval of α0" in w and "reaches 0" in w for w in fit.warnings)
    assert not any("interval of α0" in w for w in fit_nplh(law_points(0.01, seed=0)).warnings)


def test_the_pressure_ladder_gates_only_the_selected_weights(tiny_model, tmp_path):
    """--exclude (and --include) chose the set that static and iterative rank, but the
    pressure ladder gated every Linear weight: an excluded layer was pruned with the rest and
    its weights counted in each level's density."""
    from prunelimit import api
    from prunelimit.inputs import load_inputs
    from tests.conftest import LIBRARY_SAMPLES, SPEC

    path = tmp_path / "dense.pt"
    torch.save(tiny_model.state_dict(), path)
    inputs = load_inputs(path, model=SPEC, data="digits:train", max_samples=LIBRARY_SAMPLES, exclude=("0",))
    first = inputs.model[0].weight.detach().clone()
    fit = api.nplh(inputs, mode="pressure", pressures=tuple(2.0 ** k for k in range(-2, 6)), epochs_per_level=2,
                   region=(0.005, 1.0))
    assert min(fit.points.density) < 0.9  # the ladder pruned the selected layers
    assert torch.count_nonzero(inputs.model[0].weight) == first.numel()  # and left the excluded one whole


def test_auto_region_takes_repeated_gammas():
    # points repeated (runs recorded twice) or one gamma throughout: the batched least squares of
    # the segment search met a singular system (LinAlgError, exit 5) where a fit or a named refusal belongs
    gamma, density = np.repeat([0.1, 0.3, 0.5], 5), np.repeat([0.5, 0.2, 0.1], 5)
    fit = fit_nplh(LawPoints.from_arrays(density, gamma), region="auto")
    assert fit.n_region == 15 and fit.alpha0 == pytest.approx(fit_nplh(LawPoints.from_arrays(density, gamma)).alpha0)
    with pytest.raises(UsageError, match="same gamma"):
        fit_nplh(LawPoints.from_arrays(np.geomspace(0.4, 0.01, 10), np.full(10, 0.5)), region="auto")


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.9])
def test_iterative_densities_are_the_ones_the_rounds_record(rate):
    """The plan ``check_iterative_region`` reads is what the rounds do, count for count."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5))
    batch = (torch.randn(4, 20), torch.zeros(4, dtype=torch.long))
    rec = iterative_points(model, [batch], lambda m, b: m(b[0]).sum(), rate=rate, finetune_steps=0)
    assert list(rec.points.density) == pytest.approx(iterative_densities(750, 750, rate), abs=0)


def test_a_fits_repr_stays_short_however_many_points_it_fitted():
    """The repr held every point given (2,187 characters for 40, about 50 a point): a CSV of
    thousands of points printed pages in a notebook; they stay the result's ``points``."""
    gamma = np.geomspace(1e-3, 1e3, 2000)
    fit = fit_nplh(LawPoints.from_arrays(0.01 * gamma ** -0.3, gamma), n_boot=50)
    assert len(repr(fit)) < 1500, len(repr(fit))
    assert "α0 = 0.3000" in repr(fit) and len(fit.points.density) == 2000  # the console's four decimals


@pytest.mark.parametrize("region", ["auto", (0.05, 0.5)])
def test_points_all_at_one_density_are_refused_naming_all_of_them(region):
    """30 points at one density with ``--region auto`` said "all 25 points in the fit region
    have the same density": the automatic region had split the flat line into segments and
    kept one. One density cannot fit the law whatever the region: every point is named."""
    gamma = np.geomspace(0.01, 10, 30)
    with pytest.raises(UsageError, match=r"^all 30 points have the same density 0\.3: one density cannot fit the "
                                         r"law"):
        fit_nplh(LawPoints.from_arrays([0.3] * 30, list(gamma)), region=region)


def test_the_cli_names_every_point_at_one_density(cli, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("density,gamma\n" + "".join(f"0.3,{float(g)!r}\n" for g in np.geomspace(0.01, 10, 30)))
    run = cli("law", "nplh-fit", path, "--region", "auto")
    assert run.exit_code == 2 and "all 30 points have the same density 0.3" in " ".join(run.stderr.split())


def test_a_region_holding_one_density_of_several_is_named_as_the_regions():
    with pytest.raises(UsageError, match=r"all 4 points with density in \[0\.05, 0\.5\] \(of 6\) have the same "
                                         r"density 0\.3"):
        fit_nplh(LawPoints.from_arrays([0.3] * 4 + [0.01, 0.02], [1.0, 2.0, 3.0, 4.0, 9.0, 8.0]), region=(0.05, 0.5))
