"""Train the bundled example: an MLP 64-32-10 on the bundled handwritten digits.

LOMP-style: SGD with momentum on cross-entropy + λ‖w‖₁ over the prunable weights, so many
weights end near zero (research/limit-paper.md §4). Saved in prunelimit's own format with
the model spec and the analysis data spec, so `prunelimit bounds examples/digits-mlp.pt`
needs no flags.

    python examples/make_example.py
"""

from pathlib import Path

import torch

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.data.spec import load_dataset
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.evaluate import evaluate
from prunelimit.models.params import prunable_parameters
from prunelimit.models.spec import build_model

SPEC, DATA, EVAL = "mlp:64,32,10", "digits:train", "digits:test"
OUT = Path(__file__).resolve().parent / "digits-mlp.pt"


def main(epochs: int = 60, l1: float = 1e-4, lr: float = 0.05, seed: int = 0) -> None:
    torch.manual_seed(seed)
    model = build_model(SPEC)
    train, test = load_dataset(DATA), load_dataset(EVAL)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    weights = [p for _, p in prunable_parameters(model)]
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(train), generator=gen).split(64):
            loss = cross_entropy_loss(model, (train.x[idx], train.y[idx]))
            loss = loss + l1 * sum(w.abs().sum() for w in weights)
            opt.zero_grad()
            loss.backward()
            opt.step()
    batches = [(test.x, test.y)]
    ev = evaluate(model, batches, cross_entropy_loss)
    meta = {"data": DATA, "eval_data": EVAL, "l1": l1, "epochs": epochs, "seed": seed}
    save_checkpoint(OUT, SPEC, model.state_dict(), meta=meta, force=True)
    print(f"wrote {OUT}: test loss {ev.loss:.4f}, test accuracy {100 * ev.accuracy:.2f} %")


if __name__ == "__main__":
    main()
