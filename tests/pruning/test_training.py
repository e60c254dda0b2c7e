"""The one masked training loop: masks hold, the l1 gradient, torch's cosine, exact resume."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.data.batches import mse_loss
from prunelimit.errors import UsageError
from prunelimit.pruning.training import cosine, factor_schedule, sgd, train_masked


def _data(seed: int = 0, n: int = 96, batch: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=gen, dtype=torch.float64)
    y = x @ torch.randn(6, 3, generator=gen, dtype=torch.float64) + 0.1 * torch.randn(n, 3, generator=gen,
                                                                                       dtype=torch.float64)
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, n, batch)]


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def test_masked_weights_stay_exactly_zero() -> None:
    model = _model()
    gen = torch.Generator().manual_seed(1)
    masks = {name: torch.rand(p.shape, generator=gen) > 0.5
             for name, p in model.named_parameters() if name.endswith("weight")}
    opt = sgd(model, 0.05, momentum=0.9, weight_decay=1e-3, nesterov=True)
    train_masked(model, opt, mse_loss, _data(), epochs=5, masks=masks, l1=1e-3,
                 l1_params=list(model.parameters()))
    params = dict(model.named_parameters())
    for name, keep in masks.items():
        assert torch.all(params[name][~keep] == 0)  # exact, not approximately zero
        assert torch.all(params[name][keep] != 0)  # the kept weights did train
        momentum = opt.state[params[name]]["momentum_buffer"]
        assert torch.all(momentum[~keep] == 0)  # no buffer left to revive a pruned weight


def test_l1_gradient_is_coefficient_times_sign() -> None:
    # One SGD step with lr 1 and no momentum: w_new − w_old = −(∇ data loss + λ·sign(w)),
    # so the change against a λ = 0 step from the same start is exactly −λ·sign(w).
    # float64 throughout; 1e-12 absolute leaves room for the two subtractions' round-off.
    lam = 0.37
    batch = _data(2, n=16)
    runs = []
    for coef in (0.0, lam):
        model = nn.Linear(6, 3).double()
        with torch.no_grad():
            model.weight.copy_(torch.linspace(-1.0, 1.0, 18, dtype=torch.float64).reshape(3, 6) + 0.01)
            model.bias.zero_()
        start = model.weight.detach().clone()
        train_masked(model, sgd(model, 1.0), mse_loss, batch, epochs=1, l1=coef, l1_params=[model.weight])
        runs.append(model.weight.detach() - start)
    torch.testing.assert_close(runs[1] - runs[0], -lam * torch.sign(start), rtol=0, atol=1e-12)


def _torch_cosine(period: int, high: float, low: float, steps: int) -> list[float]:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=high)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=period, eta_min=low)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize("period, high, low", [(20, 1.0, 0.0), (7, 0.1, 0.1 / 30), (40, 0.05, 1e-4)])
def test_cosine_equals_torch_cosine_annealing(period, high, low) -> None:
    # torch's scheduler is recursive, ours a closed form: equal up to round-off (1e-12 of the base).
    ours = [cosine(k, period, high, low) for k in range(period + 1)]
    assert ours == pytest.approx(_torch_cosine(period, high, low, period + 1), abs=1e-12 * high)
    # Through the loop's LambdaLR: the learning rate of each epoch's first step.
    model = _model()
    opt = sgd(model, 0.1)
    lrs = []
    train_masked(model, opt, mse_loss, _data(), epochs=period,
                 schedulers=[factor_schedule(opt, high, lambda k: cosine(k, period, 1.0, low / high))],
                 on_epoch=lambda done: lrs.append(done.lr))
    assert lrs == pytest.approx(_torch_cosine(period, high, low, period), abs=1e-12 * high)


def _run(model: nn.Module, start: int, state: dict | None, epochs: int, stop: int | None = None):
    """Masked, l1, momentum, per-iteration cosine with reshuffled epochs; state saved at ``stop``."""
    data = _data(3)
    masks = {"0.weight": torch.arange(48).reshape(8, 6) % 3 != 0}
    opt = sgd(model, 0.05, momentum=0.9)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
    per_epoch = len(data)
    sched = factor_schedule(opt, 0.05, lambda k: cosine(k, epochs * per_epoch), start * per_epoch)
    saved = {}

    def shuffled(epoch: int):
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(epoch))
        return [data[i] for i in order]

    def keep(done) -> None:
        if done.epoch + 1 == stop:
            saved.update(model=copy.deepcopy(model.state_dict()), optimizer=copy.deepcopy(opt.state_dict()),
                         rng=torch.get_rng_state())

    result = train_masked(model, opt, mse_loss, shuffled, epochs=epochs, start_epoch=start,
                          steps_per_epoch=per_epoch, masks=masks, l1=1e-3, l1_params=list(model.parameters()),
                          schedulers=[sched], schedule_unit="iteration", on_epoch=keep)
    return result, saved


def test_resume_after_k_epochs_is_bit_identical() -> None:
    # Seeded, CPU, float64: the same operations in the same order give the same bits.
    full_model = _model()
    full, _ = _run(full_model, 0, None, epochs=6)
    first, state = _run(_model(), 0, None, epochs=6, stop=2)
    resumed_model = _model(seed=99)  # another init: everything must come from the state
    rest, _ = _run(resumed_model, 2, state, epochs=6)
    for a, b in zip(full_model.parameters(), resumed_model.parameters()):
        assert torch.equal(a, b)
    assert rest.epochs == full.epochs[2:] and rest.steps == 4 * 6


def test_max_steps_stops_mid_epoch_and_reports_progress() -> None:
    calls = []
    model = _model()
    result = train_masked(model, sgd(model, 0.01), mse_loss, _data(), epochs=3, max_steps=8,
                          on_step=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 8) for k in range(1, 9)] and result.steps == 8
    assert [e.step for e in result.epochs] == [6, 8]  # 6 batches per epoch, then 2 more


def _batch_norm_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 10))


ONE_LEFT = {  # 257 samples in batches of 128: the last holds one
    "train": lambda m, d: prunelimit.train(m, d, epochs=1),
    "hyperflux": lambda m, d: prunelimit.hyperflux(m, d, 0.5, pruning_epochs=2, regrowth_epochs=0, gate_lr=0.1),
    "imp": lambda m, d: prunelimit.imp(m, d, levels=1, epochs_per_level=1),
    "nplh": lambda m, d: prunelimit.nplh(m, d, mode="iterative"),
}


@pytest.mark.parametrize("name", ONE_LEFT)
def test_a_batch_of_one_for_batch_norm_is_refused_before_any_step(name) -> None:
    """BatchNorm normalises over the batch in training, and torch refuses one sample per
    channel: every training run failed with its ValueError on the last batch (the command
    line's as an internal error), the caller's model trained up to it."""
    from prunelimit.data.spec import load_dataset

    data = load_dataset("digits:train", max_samples=257)
    model = _batch_norm_net()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(UsageError, match=r"^a training batch holds one sample, which the model's BatchNorm cannot "
                                         r"normalise in training; use a batch_size that leaves no batch of one"):
        ONE_LEFT[name](model, (data.x, data.y))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    ONE_LEFT[name](model, (data.x[:256], data.y[:256]))  # no batch of one: it trains


def test_the_command_line_refuses_a_batch_of_one_for_batch_norm(cli, tmp_path) -> None:
    factory = tmp_path / "bn.py"
    factory.write_text("import torch\nfrom torch import nn\ndef build():\n"
                       "    return nn.Sequential(nn.Linear(64, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 10))\n")
    result = cli("train", "--model", f"{factory}:build", "--data", "digits:train", "--max-samples", "257",
                 "--epochs", "1", "--output", tmp_path / "bn.pt")
    assert result.exit_code == 2, result.output
    assert "use a --batch-size that leaves no batch of one" in result.stderr and "internal error" not in result.output
    assert not (tmp_path / "bn.pt").exists()
