"""Does ``bounds``' overshoot flag agree with the measured limit? (results: docs/accuracy.md)

Trains twelve small models on the bundled digits (``digits:train``) and a synthetic
regression set, plainly, with l1 from the start, and plainly then briefly with l1 (SGD,
momentum 0.9, batches of 64, seeded, one torch thread: seconds each), and six plainly
trained MLPs of other kinds of training (label smoothing, near-zero loss, stopped early, a
skip connection, Adam, multi-label BCE) and ten of yet others (mixup, gradient clipping,
full-batch GD, a frozen pretrained backbone, an int8 weight grid, a distilled student under
its hard labels and under its distillation loss, l1 with weight decay at three strengths), and
five of other families (a BatchNorm CNN, a dropout MLP, label smoothing with weight decay, Adam
with l1 at two learning rates), and five more (a tiny transformer, a GRU and an LSTM over the image
rows, an MLP under SGD with momentum for 20,000 steps, an l1-trained MLP pruned to 80 % and
fine-tuned), three builders of ``coverage_real_nets.py`` (a GRU, single-head attention, a BatchNorm CNN)
and sixteen models on mnist1d (the ``bench`` extra; only where no word or one naming mnist1d is given: an
MLP, 1-D CNNs with and without BatchNorm, a GRU, attention, weight decay alone, l1 too weak and strong
enough, overfit, stopped early), then runs ``prunelimit.verify`` (default method) on each and prints ρ*, ρ_L, the measured limit (loss
criterion), the regime's ``l1_shaped`` and the ``overshoot`` flags, and whether each flag
says what the measured limit says: ``lower`` when ρ_L lies past it, ``predicted`` when ρ*
lies more than 5 points past it. Its first nine rows took 12 minutes on 2 cores shared with
other jobs (load average 5–11); the ten after the first eighteen, 4 minutes; the five after those,
7 minutes; the five after those, 16 minutes (3 min 51 s of CPU); the nineteen added on 2026-12-07
(``mnist1d "coverage builder"``), 23 minutes, every other row trained first (load average 5–7).

    PYTHONPATH=. python benchmarks/accuracy_overshoot.py            # every row
    PYTHONPATH=. python benchmarks/accuracy_overshoot.py adam bce   # the rows naming a word
    PYTHONPATH=. python benchmarks/accuracy_overshoot.py mnist1d "coverage builder"
"""

from __future__ import annotations

import functools
import itertools
import sys

import torch
import torch.nn.functional as F
from torch import nn

import prunelimit
from prunelimit.data.spec import load_dataset
from prunelimit.pruning.actual import LARGE_GAP


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 16, 10))


def batchnorm_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 48), nn.BatchNorm1d(48), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(48, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))


def regression() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 1))


def regression_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1000, 8, generator=g)
    y = torch.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + 0.3 * x[:, 3] ** 2 + 0.1 * torch.randn(1000, generator=g)
    return x, y[:, None]


class Residual(nn.Module):
    """An MLP whose hidden layer is added to its own input (a skip connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.inp, self.block, self.out = nn.Linear(64, 32), nn.Linear(32, 32), nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.inp(x))
        return self.out(h + F.relu(self.block(h)))


def fit(model: nn.Module, data, loss_fn, steps: int, lr: float, l1: float = 0.0, seed: int = 0,
        adam: bool = False, weight_decay: float = 0.0, clip: float | None = None,
        full_batch: bool = False) -> nn.Module:
    """SGD (or Adam) on ``loss_fn`` (+ ``l1`` · the weight matrices' l1 norm) for ``steps``
    batches of 64 (or of all the data: ``full_batch``), with ``weight_decay`` and the
    gradient's norm clipped to ``clip``; parameters that do not require a gradient stay."""
    x, y = data
    optimizer = torch.optim.Adam(model.parameters(), lr=lr) if adam else \
        torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    draw = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        i = slice(None) if full_batch else torch.randint(0, len(x), (64,), generator=draw)
        loss = loss_fn(model(x[i]), y[i])
        if l1:
            loss = loss + l1 * sum(p.abs().sum() for n, p in model.named_parameters()
                                   if n.endswith("weight") and p.dim() > 1)
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
    return model.eval()


def fit_mixup(model: nn.Module, data, steps: int, lr: float, alpha: float = 0.4) -> nn.Module:
    """SGD on mixup: each batch of 64 blended with another by λ ~ Beta(α, α), the loss blended alike."""
    x, y = data
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    draw, beta = torch.Generator().manual_seed(0), torch.distributions.Beta(alpha, alpha)
    model.train()
    for _ in range(steps):
        i, j = (torch.randint(0, len(x), (64,), generator=draw) for _ in range(2))
        mix = float(beta.sample())
        out = model(mix * x[i] + (1 - mix) * x[j])
        loss = mix * F.cross_entropy(out, y[i]) + (1 - mix) * F.cross_entropy(out, y[j])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def int8_grid(model: nn.Module) -> nn.Module:
    """Each weight matrix rounded to 255 levels of its largest |w| (int8, stored as float)."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                step = p.abs().max() / 127
                p.copy_(torch.round(p / step).clamp(-127, 127) * step)
    return model


def distillation_loss(out: torch.Tensor, soft: torch.Tensor, t: float = 4.0) -> torch.Tensor:
    """Hinton et al.'s distillation loss: KL of the teacher's soft targets to the student's at temperature t, × t²."""
    return t * t * F.kl_div(F.log_softmax(out / t, 1), soft, reduction="batchmean")


class Tempered(nn.Module):
    """A student's log-probabilities at temperature ``t``: what its distillation loss compares."""

    def __init__(self, model: nn.Module, t: float) -> None:
        super().__init__()
        self.model, self.t = model, t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.model(x) / self.t, 1)


def models():
    """(name, model, data, loss) for each trained model."""
    digits = load_dataset("digits:train")
    flat, images = (digits.x, digits.y), (digits.x.reshape(-1, 1, 8, 8), digits.y)
    reg = regression_data()
    nets = {"mlp": (mlp, flat, F.cross_entropy, "ce", 0.05), "cnn": (cnn, images, F.cross_entropy, "ce", 0.05),
            "bn-mlp": (batchnorm_mlp, flat, F.cross_entropy, "ce", 0.05),
            "mse-mlp": (regression, reg, F.mse_loss, "mse", 0.02)}
    plans = [("mlp", "plain", 600, 0, 0.0), ("cnn", "plain", 600, 0, 0.0), ("bn-mlp", "plain", 600, 0, 0.0),
             ("mse-mlp", "plain", 1500, 0, 0.0), ("mlp", "l1", 0, 3000, 2e-3), ("cnn", "l1", 0, 3000, 1e-3),
             ("bn-mlp", "l1", 0, 3000, 1e-3), ("mse-mlp", "l1", 0, 4000, 1e-3),
             ("mlp", "plain, then l1", 600, 100, 1e-3), ("cnn", "plain, then l1", 600, 150, 1e-3),
             ("mlp", "l1, short", 0, 700, 1e-3), ("mse-mlp", "plain, then l1", 1500, 300, 1e-3)]
    for net, how, plain_steps, l1_steps, l1 in plans:
        factory, data, loss_fn, loss, lr = nets[net]
        torch.manual_seed(0)
        model = fit(factory(), data, loss_fn, plain_steps, lr)
        model = fit(model, data, loss_fn, l1_steps, lr, l1, seed=5 if plain_steps else 0)
        yield f"{net}, {how}", model, data, loss


def other_training():
    """(name, model, data, loss) for plainly trained MLPs of other kinds of training: label
    smoothing (analysed with plain cross-entropy), to near zero training loss, stopped early at a
    high loss, a skip connection, Adam, and a multi-label model (three binary labels, BCE)."""
    digits = load_dataset("digits:train")
    flat = (digits.x, digits.y)
    labels = torch.stack([digits.y % 2 == 0, digits.y >= 5, digits.y % 3 == 0], 1).float()
    smoothed = functools.partial(F.cross_entropy, label_smoothing=0.1)
    plans = [("label smoothing 0.1", mlp, flat, smoothed, "ce", 600, 0.05, False),
             ("near-zero loss", mlp, flat, F.cross_entropy, "ce", 5000, 0.1, False),
             ("early stop, high loss", mlp, flat, F.cross_entropy, "ce", 30, 0.01, False),
             ("residual", Residual, flat, F.cross_entropy, "ce", 600, 0.05, False),
             ("adam", mlp, flat, F.cross_entropy, "ce", 600, 1e-3, True),
             ("multi-label, bce", lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 3)),
              (digits.x, labels), F.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, 600, 0.05,
              False)]
    for name, factory, data, trained_on, loss, steps, lr, adam in plans:
        torch.manual_seed(0)
        yield f"mlp, {name}", fit(factory(), data, trained_on, steps, lr, adam=adam), data, loss


def more_training():
    """(name, model, data, loss) for plainly trained MLPs of yet other kinds of training: mixup,
    gradient clipping, full-batch GD, a head trained on a frozen backbone pretrained on digits
    0-4, an int8 weight grid, a student distilled from a wider teacher (analysed with the hard
    labels, and with its distillation loss on the teacher's soft targets), and l1 with weight
    decay at three strengths (3,000 steps)."""
    digits = load_dataset("digits:train")
    flat, ce = (digits.x, digits.y), F.cross_entropy
    torch.manual_seed(0)
    yield "mlp, mixup (α 0.4)", fit_mixup(mlp(), flat, 600, 0.05), flat, "ce"
    torch.manual_seed(0)
    yield "mlp, gradient norm clipped to 0.1", fit(mlp(), flat, ce, 600, 0.05, clip=0.1), flat, "ce"
    torch.manual_seed(0)
    yield "mlp, full-batch GD", fit(mlp(), flat, ce, 600, 0.5, full_batch=True), flat, "ce"
    torch.manual_seed(0)
    early = digits.y < 5
    backbone = fit(mlp(), (digits.x[early], digits.y[early]), ce, 600, 0.05)[0]
    torch.manual_seed(1)
    model = mlp()
    model[0].load_state_dict(backbone.state_dict())
    model[0].requires_grad_(False)
    yield "mlp, frozen pretrained backbone", fit(model, flat, ce, 600, 0.05).requires_grad_(True), flat, "ce"
    torch.manual_seed(0)
    yield "mlp, int8 weight grid", int8_grid(fit(mlp(), flat, ce, 600, 0.05)), flat, "ce"
    torch.manual_seed(3)
    teacher = fit(nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)), flat, ce, 1500, 0.05)
    with torch.no_grad():
        soft = F.softmax(teacher(digits.x) / 4.0, 1)
    torch.manual_seed(0)
    student = fit(mlp(), (digits.x, soft), distillation_loss, 600, 0.05)
    yield "mlp, distilled (T 4), hard labels", student, flat, "ce"
    yield "mlp, distilled (T 4), its KD loss", Tempered(student, 4.0), (digits.x, soft), \
        nn.KLDivLoss(reduction="batchmean")
    for strength in (1e-4, 5e-4, 2e-3):
        torch.manual_seed(0)
        yield (f"mlp, l1 + weight decay {strength:g}", fit(mlp(), flat, ce, 3000, 0.05, strength,
                                                              weight_decay=strength), flat, "ce")


def bn_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1),
                         nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 16, 10))


def dropout_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Dropout(0.5), nn.Linear(48, 32), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(32, 10))


def other_families():
    """(name, model, data, loss) for five more: a BatchNorm CNN on the 8×8 images and a dropout
    MLP (0.5), both plain SGD for 1,500 steps; an MLP under label smoothing 0.1 with weight decay
    5·10⁻⁴ (analysed with plain cross-entropy); and Adam with l1 (λ 10⁻³, 1,500 steps) at lr
    3·10⁻³, which leaves an l1-shaped model, and at 3·10⁻², whose weights hover above the
    near-zero share's threshold (not l1-shaped, with no training record to say otherwise)."""
    digits = load_dataset("digits:train")
    flat, images, ce = (digits.x, digits.y), (digits.x.reshape(-1, 1, 8, 8), digits.y), F.cross_entropy
    smoothed = functools.partial(F.cross_entropy, label_smoothing=0.1)
    torch.manual_seed(0)
    yield "bn-cnn, plain", fit(bn_cnn(), images, ce, 1500, 0.05), images, "ce"
    torch.manual_seed(0)
    yield "mlp, dropout 0.5", fit(dropout_mlp(), flat, ce, 1500, 0.05), flat, "ce"
    torch.manual_seed(0)
    # named apart from the rows above: the words that chose those ("smoothing", "adam", "weight decay") leave these
    yield "mlp, smoothed labels 0.1 + l2 decay 0.0005", fit(mlp(), flat, smoothed, 1500, 0.05,
                                                            weight_decay=5e-4), flat, "ce"
    for lr in (3e-3, 3e-2):
        torch.manual_seed(0)
        yield f"mlp, l1 0.001 under Adam lr {lr:g}", fit(mlp(), flat, ce, 1500, lr, 1e-3, adam=True), flat, "ce"


class RowAttention(nn.Module):
    """A tiny transformer: a digit's 8 rows as 8 tokens, a linear patch embedding, one encoder layer (LayerNorm)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.embed, self.position = nn.Linear(8, width), nn.Parameter(torch.zeros(1, 8, width))
        self.encoder = nn.TransformerEncoderLayer(width, 2, 32, dropout=0.0, batch_first=True)
        self.norm, self.head = nn.LayerNorm(width), nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x.reshape(-1, 8, 8)) + self.position
        return self.head(self.norm(self.encoder(tokens)).mean(1))


class RowRecurrent(nn.Module):
    """A GRU or an LSTM over a digit's 8 rows, its last state read by a linear head."""

    def __init__(self, cell: type[nn.Module], hidden: int = 24) -> None:
        super().__init__()
        self.rnn, self.head = cell(8, hidden, batch_first=True), nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x.reshape(-1, 8, 8))[0][:, -1])


def pruned_and_finetuned(model: nn.Module, data, ratio: float, steps: int, lr: float) -> nn.Module:
    """``model`` magnitude-pruned to ``ratio`` of its weight matrices (one ranking) and fine-tuned
    for ``steps`` SGD batches, the pruned weights set back to zero after each: a sparse checkpoint."""
    weights = [p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1]
    with torch.no_grad():
        ranked = torch.cat([w.abs().flatten() for w in weights]).sort().values
        masks = [(w.abs() > ranked[int(ratio * len(ranked))]).to(w.dtype) for w in weights]

    def mask() -> None:
        with torch.no_grad():
            for w, m in zip(weights, masks):
                w.mul_(m)

    x, y = data
    optimizer, draw = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9), torch.Generator().manual_seed(7)
    mask()
    model.train()
    for _ in range(steps):
        i = torch.randint(0, len(x), (64,), generator=draw)
        loss = F.cross_entropy(model(x[i]), y[i])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        mask()
    return model.eval()


def sequence_families():
    """(name, model, data, loss, include) for families past the MLP and CNN: a tiny transformer
    (Adam lr 3·10⁻³), a GRU and an LSTM over the image rows (their weight matrices added with
    ``include``), each 1,500 steps; an MLP under plain SGD with momentum for 20,000 steps; and
    an MLP trained with l1 (λ 2·10⁻³, 3,000 steps), pruned to 80 % and fine-tuned 1,000 steps."""
    digits = load_dataset("digits:train")
    flat, ce = (digits.x, digits.y), F.cross_entropy
    torch.manual_seed(0)
    yield "transformer, rows as tokens", fit(RowAttention(), flat, ce, 1500, 3e-3, adam=True), flat, "ce", ()
    for cell, lr in ((nn.GRU, 0.05), (nn.LSTM, 0.1)):
        torch.manual_seed(0)
        yield f"{cell.__name__.lower()} over rows", fit(RowRecurrent(cell), flat, ce, 1500, lr), flat, "ce", ("rnn",)
    torch.manual_seed(0)
    yield "mlp, SGD + momentum, 20,000 steps", fit(mlp(), flat, ce, 20000, 0.05), flat, "ce", ()
    torch.manual_seed(0)
    yield ("mlp, l1, pruned to 80 % and fine-tuned", pruned_and_finetuned(fit(mlp(), flat, ce, 3000, 0.05, 2e-3), flat,
                                                                            0.8, 1000, 0.02), flat, "ce", ())


def coverage_builders():
    """(name, model, data, loss, include) for three builders of ``coverage_real_nets.py`` trained
    as it trains them (``prunelimit.train``, 30 epochs, no l1, seed 0): a GRU of 32 units over
    the digit's rows (its recurrent weights pruned too), a single-head self-attention model of
    width 16, and a CNN with BatchNorm (eval mode)."""
    from coverage_real_nets import INCLUDE, GRURows, TinyAttention, digits_data, tiny_cnn

    for name, factory, kind, key in (("gated recurrent rows, 32 units", GRURows, "flat", "gru"),
                                     ("single-head attention, width 16", TinyAttention, "flat", "attn"),
                                     ("tiny cnn with batchnorm", lambda: tiny_cnn("bn"), "image", "cnn-bn")):
        data = digits_data(kind)
        torch.manual_seed(0)
        model = factory()
        prunelimit.train(model, data, loss="ce", epochs=30, l1=0.0, seed=0)
        yield f"coverage builder: {name}", model.eval(), data, "ce", INCLUDE.get(key, ())


def cnn1d(norm: bool = False) -> nn.Module:
    """Two 1-D convolutions of width 5 (the second of stride 2) and a linear head, ``norm``
    a BatchNorm after each convolution."""
    return nn.Sequential(nn.Unflatten(1, (1, 40)), nn.Conv1d(1, 8, 5, padding=2), *([nn.BatchNorm1d(8)] * norm),
                         nn.ReLU(), nn.Conv1d(8, 16, 5, padding=2, stride=2), *([nn.BatchNorm1d(16)] * norm),
                         nn.ReLU(), nn.Flatten(), nn.Linear(16 * 20, 10))


def mnist1d_families():
    """(name, model, data, loss, include) on mnist1d (2,500 samples generated offline by the
    ``mnist1d`` package, seed 42, its 2,000 training ones; the ``bench`` extra): a 40-64-10
    MLP, a 1-D CNN with and without BatchNorm, a GRU and a single-head attention model (Adam lr
    3·10⁻³) over 5 tokens of 8, each 1,500 steps; the MLP with weight decay alone (5·10⁻³,
    2·10⁻²), with l1 too weak for its regime (10⁻⁴, 5·10⁻⁴, 10⁻³) and strong enough (2·10⁻³,
    3,000 steps); a 40-256-10 MLP overfit on 300 samples (6,000 steps, analysed on them); and
    the MLP stopped after 40, 60, 100 and 150 steps."""
    from coverage_real_nets import GRURows, TinyAttention
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = 2500
    made = make_dataset(args)
    data = torch.as_tensor(made["x"], dtype=torch.float32), torch.as_tensor(made["y"], dtype=torch.int64)
    few, ce = (data[0][:300], data[1][:300]), F.cross_entropy

    def mlp1d(width: int = 64) -> nn.Module:
        return nn.Sequential(nn.Linear(40, width), nn.ReLU(), nn.Linear(width, 10))

    plans = [("mlp, plain", mlp1d, data, 1500, {}), ("cnn, plain", cnn1d, data, 1500, {}),
             ("cnn with batchnorm, plain", lambda: cnn1d(True), data, 1500, {}),
             ("recurrent over tokens, plain", lambda: GRURows(tokens=5), data, 1500, {}),
             ("attention over tokens, plain", lambda: TinyAttention(tokens=5), data, 1500, {"lr": 3e-3, "adam": True}),
             *((f"mlp, l2 {wd:g} alone", mlp1d, data, 1500, {"weight_decay": wd}) for wd in (5e-3, 2e-2)),
             *((f"mlp, l1 {l1:g}", mlp1d, data, 1500, {"l1": l1}) for l1 in (1e-4, 5e-4, 1e-3)),
             ("mlp, l1 0.002, 3,000 steps", mlp1d, data, 3000, {"l1": 2e-3}),
             ("mlp 40-256-10, overfit on 300 samples", lambda: mlp1d(256), few, 6000, {}),
             *((f"mlp, stopped after {steps} steps", mlp1d, data, steps, {}) for steps in (40, 60, 100, 150))]
    for name, factory, on, steps, how in plans:
        torch.manual_seed(0)
        model = fit(factory(), on, ce, steps, how.pop("lr", 0.05), **how)
        yield f"mnist1d {name}", model, on, "ce", ("rnn",) if "recurrent" in name else ()


def main() -> None:
    """Every row, or those whose name holds one of the words given (``"label smoothing" adam``)."""
    chosen = sys.argv[1:]
    if any(word.startswith("-") for word in chosen):  # no options: --help (or a typo) gets the usage, not an empty table
        print(__doc__)
        return
    torch.set_num_threads(1)
    print("| model | l1-shaped | ρ* | ρ_L | measured | Δ | overshoot.lower | overshoot.predicted | agree |")
    print("|---|---|---:|---:|---:|---:|---|---|---|")
    # mnist1d needs the bench extra: its rows only where every row or a word naming mnist1d is asked for
    mnist1d = mnist1d_families() if not chosen or any("mnist1d" in word for word in chosen) else ()
    rows = itertools.chain(((*row, ()) for row in itertools.chain(models(), other_training(), more_training(),
                                                                      other_families())), sequence_families(),
                           coverage_builders(), mnist1d)
    for name, model, data, loss, include in rows:
        if chosen and not any(word in name for word in chosen):
            continue
        report = prunelimit.verify(model, data, loss=loss, include=include)
        rep, actual = report.bounds, report.actual.loss_ratio
        flags = rep.overshoot
        agree = flags.lower_overshoots == (rep.lower > actual) and flags.predicted_overshoots == (
            report.delta > LARGE_GAP)
        print(f"| {name} | {'yes' if rep.regime.l1_shaped else 'no'} | {100 * rep.ratio:.1f} % | "
              f"{100 * rep.lower:.1f} % | {100 * actual:.1f} % | {100 * report.delta:+.1f} | "
              f"{flags.lower_overshoots} | {flags.predicted_overshoots} | {'yes' if agree else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
