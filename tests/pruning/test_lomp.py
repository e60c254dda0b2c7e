"""LOMP training: l1 sparsifies, schedules match torch's schedulers, resume is exact."""

from __future__ import annotations

import io
import json

import pytest
import torch

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import InputError, OptionError, UsageError
from prunelimit.models.zoo import mlp
from prunelimit.pruning.lomp import PRESETS, LompConfig, lr_factor, train


def near_zero(model: torch.nn.Module, tol: float = 1e-3) -> int:
    return sum(int((p.abs() < tol).sum()) for n, p in model.named_parameters() if n.endswith("weight"))


def test_l1_gives_more_near_zero_weights(mlp_dense, mlp_l1) -> None:
    # Same seed, same data order; only λ differs (0 vs 1e-3). Subgradient SGD leaves
    # penalised weights oscillating within ~lr·λ = 1e-4 of zero, far below the 1e-3 cut.
    dense, sparse = near_zero(mlp_dense), near_zero(mlp_l1)
    assert sparse > 10 * max(dense, 1), (dense, sparse)


def _run(data, config: LompConfig, **kwargs) -> tuple[torch.nn.Module, object]:
    torch.manual_seed(0)
    model = mlp([64, 32, 10])
    result = train(model, data, cross_entropy_loss, config, eval_batches=data[:1], **kwargs)
    return model, result


def test_resume_reproduces_uninterrupted_run(digits) -> None:
    config = LompConfig(
        epochs=4, lr=0.05, l1=1e-4, batch_size=128, warmup_epochs=1, schedule="cosine", seed=3
    )
    full, full_result = _run(digits, config)
    saved = []
    _run(digits, config, checkpoint=lambda state: saved.append(state))
    assert [s["epoch"] for s in saved] == [1, 2, 3, 4]
    # Round-trip through torch.save / weights_only load, as the CLI will do.
    buffer = io.BytesIO()
    torch.save(saved[1], buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    torch.manual_seed(123)  # a different init: everything must come from the state
    resumed = mlp([64, 32, 10])
    result = train(resumed, digits, cross_entropy_loss, config, eval_batches=digits[:1], resume_state=state)
    # Bit-exact: same ops in the same order on CPU.
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert result.history == full_result.history
    assert result.steps == 2 * 15  # two epochs of ceil(1797/128) = 15 iterations


def test_resume_with_other_settings_is_refused(digits) -> None:
    config = LompConfig(epochs=2, lr=0.05)
    _, result = _run(digits, config)
    with pytest.raises(UsageError):
        _run(digits, LompConfig(epochs=2, lr=0.01), resume_state=result.final_state)


def test_history_progress_and_penalty(digits) -> None:
    calls = []
    config = LompConfig(epochs=2, lr=0.05, l1=1e-3, batch_size=256, l1_scope="reference")
    model, result = _run(digits, config, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (16, 16) and len(calls) == 16  # 2 epochs × ceil(1797/256) = 8
    assert [h.epoch for h in result.history] == [1, 2]
    # "reference" scope: λ·Σ|p| over weights and biases (float32 sum vs float64: 1e-6 rel).
    expected = 1e-3 * sum(float(p.detach().abs().sum()) for p in model.parameters())
    assert result.history[-1].penalty == pytest.approx(expected, rel=1e-6)
    assert 0 <= result.history[-1].eval_accuracy <= 1


def _torch_lrs(make_scheduler, epochs: int, lr: float = 1.0) -> list[float]:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make_scheduler(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_schedules_match_torch_schedulers() -> None:
    # Oracle: torch's own schedulers stepped per epoch; 1e-12 = float round-off.
    cos = LompConfig(epochs=20, lr=1.0, schedule="cosine")
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20), 20)
    assert [lr_factor(e, 0, cos, 20) for e in range(20)] == pytest.approx(ref, abs=1e-12)
    step = LompConfig(epochs=20, lr=1.0, schedule="step", milestones=(5, 12), gamma=0.5)
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [5, 12], gamma=0.5), 20)
    assert [lr_factor(e, 0, step, 20) for e in range(20)] == pytest.approx(ref, abs=1e-12)
    warm = LompConfig(epochs=10, lr=1.0, warmup_epochs=4)
    assert [lr_factor(e, 4, warm, 10) for e in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    # Reference-code quirk in iteration units: T_max = 200 steps cycles with period 400.
    quirk = LompConfig(epochs=200, lr=1.0, schedule="cosine", schedule_unit="iteration", t_max=200)
    total = 200 * 391
    assert lr_factor(1000 + 50, 1000, quirk, total) == pytest.approx(lr_factor(1000 + 450, 1000, quirk, total))
    assert lr_factor(1000 + 200, 1000, quirk, total) == pytest.approx(0.0, abs=1e-12)
    # a step schedule without milestones would be the constant one: refused
    with pytest.raises(UsageError, match="the step schedule needs milestones"):
        LompConfig(epochs=20, lr=1.0, schedule="step")


def test_presets_follow_reference_table() -> None:
    assert PRESETS["resnet18-cifar"].l1 == 5e-5 and PRESETS["resnet18-cifar"].lr == 0.1
    assert PRESETS["alexnet-cifar"].milestones == (60, 120, 160)
    assert all(p.epochs == 200 and p.batch_size == 128 and p.momentum == 0.9 for p in PRESETS.values())


@pytest.mark.parametrize(
    "kwargs",
    [dict(epochs=0, lr=0.1), dict(epochs=1, lr=0.0), dict(epochs=1, lr=0.1, l1=-1.0),
     dict(epochs=2, lr=0.1, warmup_epochs=3), dict(epochs=1, lr=0.1, schedule="exp")],
)
def test_bad_config_is_usage_error(kwargs) -> None:
    with pytest.raises(UsageError):
        LompConfig(**kwargs)


@pytest.mark.parametrize("damage", [
    lambda s: "x",
    lambda s: s | {"rng": torch.zeros(3, dtype=torch.uint8)},
    lambda s: s | {"epoch": "abc"},
    lambda s: s | {"epoch": 10**9},
    lambda s: s | {"history": [{"bogus": 1}]},
    lambda s: s | {"config": None},
])
def test_damaged_resume_state_is_an_input_error(digits, damage) -> None:
    """A resume state comes from a checkpoint file: a damaged one is refused as input (exit 3)
    before any step, never an internal error (issue 16)."""
    config = LompConfig(epochs=2, lr=0.05)
    _, result = _run(digits, config)
    with pytest.raises(InputError, match="resume state is damaged"):
        _run(digits, config, resume_state=damage(dict(result.final_state)))


def test_resume_of_a_longer_run_with_fewer_epochs_is_a_usage_error(digits) -> None:
    """``train --epochs 2 --resume -o`` a finished 3-epoch file: it said the state was damaged
    ('epoch 3 is outside 0..2', exit 3); the file is sound, the setting is another (exit 2)."""
    _, result = _run(digits, LompConfig(epochs=3, lr=0.05))
    with pytest.raises(UsageError, match=r"trained with different settings \(epochs\): epochs 3 there and 2 here; resume with --epochs 3"):
        _run(digits, LompConfig(epochs=2, lr=0.05), resume_state=dict(result.final_state))


def test_resume_state_of_other_optimizer_groups_is_an_input_error(digits) -> None:
    config = LompConfig(epochs=2, lr=0.05)
    _, result = _run(digits, config)
    state = dict(result.final_state) | {"optimizer": {"state": {}, "param_groups": []}}
    with pytest.raises(InputError, match="does not fit this model"):
        _run(digits, config, resume_state=state)


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0, lr=0.1), "^epochs must be at least 1, got 0$"),
    (dict(epochs=1, lr=-1.0), "^lr must be a positive finite number, got -1.0$"),
    (dict(epochs=1, lr=0.1, l1=float("nan")), "^l1 must be a finite number >= 0, got nan$"),
    (dict(epochs=2, lr=0.1, warmup_epochs=3), r"^warmup_epochs must lie in \[0, epochs=2\], got 3$"),
    (dict(epochs=1, lr=0.1, batch_size=2.5), "^batch_size must be an integer, got 2.5; write 2 or 3$"),
    (dict(epochs=1, lr=0.1, schedule_unit="step"), "^schedule_unit='step': use epoch, iteration$"),
    (dict(epochs=1, lr=0.1, shuffle="no"), "^shuffle must be True or False, got 'no'$"),
])
def test_each_bad_setting_is_named(kwargs, message) -> None:
    """One check a field (it said "epochs and batch size must be at least 1" for either, and
    "lr must be > 0 and λ (l1), momentum, weight decay >= 0" for any of four), so a library
    caller reads the argument and the command line its flag (``OptionError.renamed``)."""
    with pytest.raises(OptionError, match=message):
        LompConfig(**kwargs)


def _zero_mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        model[0].weight.zero_(), model[2].weight.zero_()
    return model


def test_training_from_all_zero_weights_is_warned_of(recwarn) -> None:
    """A model whose prunable weights are all exactly zero trained in silence, though nothing but
    the biases moves far (no gradient behind a zero layer, equal units, no l1 pull at 0): the
    result carries a warning (to_json's ``warnings``), also raised as it starts; a model with
    one non-zero weight trains without it."""
    import prunelimit

    torch.manual_seed(0)
    data = (torch.randn(64, 4), torch.arange(64) % 3)
    model = _zero_mlp()
    result = prunelimit.train(model, data, epochs=2)
    assert len(result.warnings) == 1 and result.warnings[0].startswith("all 56 prunable weights are exactly zero")
    assert "initialise the model's weights" in result.warnings[0] and "--model" not in result.warnings[0]
    assert result.to_json()["warnings"] == list(result.warnings)
    assert [str(w.message) for w in recwarn] == list(result.warnings)
    assert float(model[0].weight.abs().max()) < 1e-3  # what the warning says: the first layer barely moved
    model = _zero_mlp()
    with torch.no_grad():
        model[0].weight[0, 0] = 0.5
    assert prunelimit.train(model, data, epochs=1).warnings == ()


def test_train_warns_of_all_zero_weights_on_the_command_line(cli, tmp_path) -> None:
    (tmp_path / "zero.py").write_text(
        "import torch\n\ndef make():\n    torch.manual_seed(0)\n"
        "    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))\n"
        "    torch.nn.init.zeros_(m[1].weight)\n    return m\n")
    result = cli("train", "--model", f"{tmp_path / 'zero.py'}:make", "--data", "digits:train", "--epochs", "1",
                 "--max-samples", "200", "-o", str(tmp_path / "z.pt"), "--json")
    assert result.exit_code == 0, result.stderr
    (warning,) = json.loads(result.stdout)["warnings"]
    assert warning.startswith("all 640 prunable weights are exactly zero") and "give --model a spec" in warning
    assert f"prunelimit: warning: {warning}" in result.stderr
