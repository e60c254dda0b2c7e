"""Hyperflux: gate estimator, trajectory, controller, and a real run on sklearn digits."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import UsageError, library_call
from prunelimit.laws.hyperflux import (
    PressureController,
    _StraightThroughStep,
    hyperflux_prune,
    pressure_ladder,
    retention_trajectory,
)
from prunelimit.laws.nplh import fit_nplh
from prunelimit.laws.points import LawPoints
from prunelimit.models.evaluate import evaluate


def test_straight_through_gate():
    t = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    h = _StraightThroughStep.apply(t)
    assert h.tolist() == [0.0, 1.0, 1.0]  # H(0) = 1
    h.backward(torch.tensor([1.0, -2.0, 4.0]))
    assert t.grad.tolist() == [0.25, -0.5, 1.0]  # κ = 0.25 times the incoming gradient


@pytest.mark.parametrize("target, epochs", [(0.1, 40), (0.01, 100), (0.5, 10)])
def test_trajectory_ends_at_target(target, epochs):
    traj = retention_trajectory(target, epochs)
    assert traj[-1] == pytest.approx(target, rel=1e-6)
    assert np.all(np.diff(traj) < 0) and traj[0] < 1.0
    # the per-epoch retention tends to 0.999 (fast early pruning, slow at the end)
    assert traj[-1] / traj[-2] > traj[1] / traj[0]


def test_trajectory_rejects_unreachable_target():
    with pytest.raises(UsageError, match="use fewer epochs"):
        retention_trajectory(0.999, 100)


def test_controller_accelerates_and_resets():
    c = PressureController(delta=0.2, beta=1.5)
    gs = []
    for obs, exp in [(1, 0), (1, 0), (1, 0), (0, 1), (0, 1), (1, 0)]:
        c.step(obs, exp)
        gs.append(round(c.g, 12))
    # up: +0.2, +0.25, +0.3; down: −0.2, −0.25; up again from a reset increment: +0.2
    assert gs == [0.2, 0.45, 0.75, 0.55, 0.3, 0.5]
    assert c.pressure == pytest.approx(0.5**1.5)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    tr, te = perm[:1400], perm[1400:]
    train = [(x[tr][i : i + 64], y[tr][i : i + 64]) for i in range(0, 1400, 64)]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(15):
        for b in train:
            opt.zero_grad()
            cross_entropy_loss(model, b).backward()
            opt.step()
    return model, train, [(x[te], y[te])]


def test_hyperflux_reaches_target_density_and_keeps_accuracy(digits):
    dense, train, test = digits
    model = copy.deepcopy(dense)
    dense_acc = evaluate(dense, test, cross_entropy_loss).accuracy
    res = hyperflux_prune(model, train, cross_entropy_loss, target_density=0.1, pruning_epochs=30,
                          regrowth_epochs=5, gate_lr=1e-2, seed=0)
    # task requirement: within 10 % relative of the request (measured 0.1098, seed 0)
    assert res.density == pytest.approx(0.1, rel=0.10)
    weights = [model[0].weight, model[2].weight]
    kept = sum(int((w != 0).sum()) for w in weights)
    assert kept == round(res.density * sum(w.numel() for w in weights))  # model left masked
    assert all(torch.equal(w == 0, ~m) for w, m in zip(weights, res.masks.values()))
    # dense ≈ 96.7 % on 397 held-out digits; allow 3 points (12 images) of loss at 10 % density
    assert evaluate(model, test, cross_entropy_loss).accuracy >= dense_acc - 0.03
    phases = [e.phase for e in res.log]
    assert phases == ["prune"] * 30 + ["regrow"] * 5
    assert all(e.pressure == 0 for e in res.log if e.phase == "regrow")


def test_pressure_ladder_points_follow_the_law(digits):
    dense, train, _ = digits
    ladder = pressure_ladder(copy.deepcopy(dense), train, cross_entropy_loss,
                             [2.0**k for k in np.arange(-4, 6, 0.5)], epochs_per_level=3, gate_lr=1e-2)
    assert all(np.diff(ladder.densities) <= 0)  # more pressure, fewer weights
    fit = fit_nplh(LawPoints.from_arrays(ladder.densities, ladder.pressures))
    # task requirement R² ≥ 0.95 (measured 0.997; α0 ≈ 0.54, cf. 0.52–0.69 for L0 on the authors' released data)
    assert fit.r2 >= 0.95 and fit.n_region >= 10
    assert 0.3 < fit.alpha0 < 1.0
    assert math.isfinite(fit.c)


def test_pressure_points_record_gamma_as_pressure(digits):
    from prunelimit.laws.nplh import pressure_points

    dense, train, _ = digits
    pts = pressure_points(copy.deepcopy(dense), train, cross_entropy_loss, [1.0, 8.0], epochs_per_level=2, gate_lr=1e-2)
    again = pressure_ladder(copy.deepcopy(dense), train, cross_entropy_loss, [1.0, 8.0], epochs_per_level=2, gate_lr=1e-2)
    assert pts.gamma == (1.0, 8.0) and pts.density == again.densities  # seeded: bit-identical


def test_a_missed_target_names_the_phase_that_missed_it():
    """The warning read every run that ended above its target as a pressure phase too short
    ("raise --pruning-epochs"). From digits MLPs at 3 % the pressure phase ended at 2.91 % and
    the regrowth phase took the density to 3.67-3.84 %: more pressure epochs do not help there,
    fewer regrowth epochs do."""
    from prunelimit.api.laws import _missed_target
    from prunelimit.laws.hyperflux import HyperfluxEpoch

    def log(prune, regrow):
        return [HyperfluxEpoch(i + 1, "prune", 1.0, d, None, 0.1) for i, d in enumerate(prune)] + [
            HyperfluxEpoch(len(prune) + i + 1, "regrow", 0.0, d, None, 0.1) for i, d in enumerate(regrow)]

    regrown = _missed_target(0.0367, 0.03, log([0.5, 0.1, 0.0291], [0.0312, 0.0367]))[0]
    assert "pressure phase ended at 2.91 %" in regrown and "lower --regrowth-epochs" in regrown
    assert "raise --pruning-epochs" not in regrown
    short = _missed_target(0.2, 0.05, log([0.6, 0.3, 0.2], []))[0]
    assert "pressure phase ended at 20.00 %, short of the target: raise --pruning-epochs" in short
    # below the target: the fall in the pressure phase; a plainly trained start is no cure (it fell to 31 % for 50 %)
    fell = _missed_target(0.26, 0.5, log([0.9, 0.2, 0.25], [0.26]))[0]
    assert "fell to 20.00 % in the pressure phase" in fell and "plainly trained" not in fell


def test_a_trajectory_that_cannot_end_at_its_target_is_refused():
    """Below the fastest trajectory's end (r0 = 0) r0 was clipped and the trajectory ended above
    its target (3 epochs to 0.045 ended at 0.187), and the controller steered to that."""
    from prunelimit.errors import OptionError
    from prunelimit.laws.hyperflux import trajectory_floor

    assert trajectory_floor(3) == pytest.approx(np.prod(0.999 / (1 + np.exp(-2.0 * (np.arange(1, 4) - 1.5)))), rel=1e-12)
    assert retention_trajectory(trajectory_floor(3), 3)[-1] == pytest.approx(trajectory_floor(3), rel=1e-9)
    with pytest.raises(UsageError, match="below what 3 pruning epochs' trajectory reaches at its fastest"):
        retention_trajectory(0.045, 3)
    with library_call(), pytest.raises(OptionError, match=r"^pruning_epochs=3 cannot take the trajectory down to "
                                                          r"0\.045 .* use pruning_epochs=5 or more$"):
        hyperflux_prune(nn.Linear(40, 2), [(torch.zeros(2, 40), torch.zeros(2, dtype=torch.long))],  # 0.05 of 80: 4
                        cross_entropy_loss, 0.05, pruning_epochs=3)


def test_regrowth_starts_without_the_pressure_phase_momentum():
    """Γ = 0 in the regrowth phase, but the gates' Adam moments still held the pressure phase's
    Γ/N, so gates kept closing after the pressure was gone (from a digits MLP the first regrowth
    epoch closed 36 gates, 16 with fresh moments). With a data loss that gives every gate zero
    flux, nothing may move once Γ = 0: the density after each regrowth epoch is the pressure
    phase's last (it fell 0.307 → 0.141 → 0.073 → 0.026)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    batches = [(torch.randn(4, 8), torch.zeros(4, dtype=torch.long))] * 4

    def no_flux(m, batch):  # finite, and its gradient on every gate is exactly 0
        return (m(batch[0]) * 0.0).sum()

    res = hyperflux_prune(model, batches, no_flux, 0.5, pruning_epochs=10, regrowth_epochs=3)
    last_prune = [e.density for e in res.log if e.phase == "prune"][-1]
    assert 0.0 < last_prune < 1.0  # gates are near 0, where a leftover push would close some
    assert [e.density for e in res.log if e.phase == "regrow"] == [last_prune] * 3
    assert res.density == last_prune


def test_a_target_above_the_density_a_pruned_model_starts_at_is_refused_before_training():
    """Its pruned weights' gates start closed and never open, so the density only falls: from
    half the weights (digits-mlp.pt, 5 + 1 epochs), 0.7 ran every epoch at zero pressure and ended at 0.4996, with a warning
    to raise the pruning epochs."""
    from prunelimit.errors import OptionError

    torch.manual_seed(0)
    layer = nn.Linear(4, 2)
    keep = torch.tensor([[True, False, True, False], [True, True, False, False]])
    before = layer.weight.detach().clone()
    batches = [(torch.randn(8, 4), torch.arange(8) % 2)]
    with pytest.raises(OptionError, match=r"^target_density 0\.7 is above the density 0\.5 the model starts at"):
        hyperflux_prune(layer, batches, cross_entropy_loss, 0.7, pruning_epochs=5, masks={"weight": keep})
    assert torch.equal(layer.weight, before)  # refused before any step
    assert hyperflux_prune(layer, batches, cross_entropy_loss, 0.5, pruning_epochs=5, regrowth_epochs=1,
                           masks={"weight": keep}).density <= 0.5


@pytest.mark.parametrize("start, target, epochs", [(0.4, 0.18, 8), (0.26, 0.05, 30)])
def test_a_trajectory_from_a_pruned_start_runs_from_its_density_to_the_target(start, target, epochs):
    """The trajectory is the start's density times a dense start's trajectory to target/start: it
    begins below the start and ends at the target (it began at 1.0, so from 40 % the first three
    epochs' targets, 0.63, 0.42, 0.30, held the pressure at 0)."""
    traj = retention_trajectory(target, epochs, start)
    assert traj[-1] == pytest.approx(target, rel=1e-9)
    assert np.all(np.diff(traj) < 0) and traj[0] < start
    assert traj == pytest.approx(start * retention_trajectory(target / start, epochs), rel=1e-12)


def test_hyperflux_from_a_pruned_model_records_its_start_and_targets_below_it():
    """From a model holding 40 % of its weights, every target of the log lies below 40 %, and the
    result records where it started (the log's first target was 0.63: a dense start's)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    held = {name: torch.rand(p.shape, generator=torch.Generator().manual_seed(1)) < 0.4
            for name, p in model.named_parameters() if p.dim() == 2}
    start = sum(int(m.sum()) for m in held.values()) / sum(m.numel() for m in held.values())
    batches = [(torch.randn(16, 16), torch.arange(16) % 4)] * 2
    # 16 steps of gate_lr 0.03 let a gate fall 0.48, past the 0.35 that closing half the open ones takes
    res = hyperflux_prune(model, batches, cross_entropy_loss, 0.2, pruning_epochs=8, regrowth_epochs=0, masks=held,
                          gate_lr=0.03)
    targets = [e.target for e in res.log if e.phase == "prune"]
    assert max(targets) < start and targets[-1] == pytest.approx(0.2, rel=1e-9)  # no regrowth: no headroom
    assert res.start_density == pytest.approx(start, abs=1e-12)
    assert hyperflux_prune(copy.deepcopy(model), batches, cross_entropy_loss, 0.2, pruning_epochs=8,
                           regrowth_epochs=0, gate_lr=0.03).start_density == 1.0


def test_the_regrowth_headroom_applies_only_when_there_is_a_regrowth_phase():
    """The trajectory aims at the target times 0.9 to leave room for regrowth to bring weights
    back; with --regrowth-epochs 0 there is none, and 2 pruning epochs to 0.5 were refused as
    unable to reach 0.45 (their trajectory reaches 0.4753)."""
    from prunelimit.errors import OptionError

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    batches = [(torch.randn(8, 8), torch.arange(8) % 4)]
    fast = {"gate_lr": 0.2}  # 2 steps of 0.2 let a gate fall past the 0.35 that closing half the gates takes
    res = hyperflux_prune(copy.deepcopy(model), batches, cross_entropy_loss, 0.5, pruning_epochs=2, regrowth_epochs=0,
                          **fast)
    assert [e.target for e in res.log][-1] == pytest.approx(0.5, rel=1e-9)
    with pytest.raises(OptionError, match=r"cannot take the trajectory down to 0\.45 \(the target 0\.5 times the "
                                          r"regrowth headroom 0\.9\), only to 0\.4753"):
        hyperflux_prune(copy.deepcopy(model), batches, cross_entropy_loss, 0.5, pruning_epochs=2, regrowth_epochs=1)
    with_regrowth = hyperflux_prune(copy.deepcopy(model), batches, cross_entropy_loss, 0.2, pruning_epochs=8,
                                    regrowth_epochs=1, **fast)
    assert [e.target for e in with_regrowth.log if e.phase == "prune"][-1] == pytest.approx(0.18, rel=1e-9)


def test_a_runs_repr_stays_short_however_many_epochs_it_logged():
    """The repr held the whole per-epoch log: 7,244 characters for the default 50 epochs (the
    digits example to 0.3), and more for a longer run; the log stays the result's ``log``."""
    from prunelimit.api.laws import HyperfluxReport
    from prunelimit.laws.hyperflux import HyperfluxEpoch
    from prunelimit.models.evaluate import Evaluation

    log = tuple(HyperfluxEpoch(e, "prune", 0.123456789, 0.3456789, 0.3456789, 0.123456789) for e in range(500))
    report = HyperfluxReport(0.3, 0.31, {}, Evaluation(0.1, 0.9, 100), Evaluation(0.2, 0.8, 100), log)
    assert len(repr(report)) < 1000, len(repr(report))
    assert len(report.log) == 500 and report.to_json()["log"][-1]["epoch"] == 499


def test_hyperflux_without_eval_data_warns_that_before_and_after_are_on_the_training_data(cli, tmp_path):
    """``imp`` says its errors are training errors when no eval data is given; ``hyperflux``
    reported before/after on the training data without a word. Both readers are told, each
    naming the option as it knows it."""
    import json

    import prunelimit

    args = ("hyperflux", "--model", "mlp:64,12,10", "--data", "digits:train", "--max-samples", "64",
            "--target-density", "0.5", "--pruning-epochs", "3", "--regrowth-epochs", "0", "--gate-lr", "0.2",
            "--threads", "1")
    run = cli(*args, "-o", tmp_path / "a.pt", "--json")
    assert run.exit_code == 0, run.stderr
    on_train = [w for w in json.loads(run.stdout)["warnings"] if "training data" in w]
    assert len(on_train) == 1 and on_train[0].endswith("--eval-data")
    run = cli(*args, "-o", tmp_path / "b.pt")  # the console says it too
    assert run.exit_code == 0 and "warning: before and after are" in " ".join(run.stdout.split())
    run = cli(*args, "--eval-data", "digits:test", "-o", tmp_path / "c.pt", "--json")
    assert run.exit_code == 0 and not [w for w in json.loads(run.stdout)["warnings"] if "training data" in w]

    d = load_digits()
    x, y = torch.tensor(d.data[:64] / 16.0, dtype=torch.float32), torch.tensor(d.target[:64])
    settings = dict(pruning_epochs=3, regrowth_epochs=0, gate_lr=0.2)
    torch.manual_seed(0)
    report = prunelimit.hyperflux(nn.Sequential(nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10)), (x, y), 0.5,
                                  **settings)
    assert [w.rsplit(" ", 1)[-1] for w in report.warnings if "training data" in w] == ["eval_data="]
    assert report.to_json()["warnings"] == list(report.warnings)
    held_out = prunelimit.hyperflux(nn.Sequential(nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10)), (x, y), 0.5,
                                    eval_data=(x[:32], y[:32]), **settings)
    assert not [w for w in held_out.warnings if "training data" in w]
