"""Train the bundled example: an MLP 64-32-10 on the bundled handwritten digits, with LOMP.

LOMP (Zhang et al., NeurIPS 2024): SGD with momentum on cross-entropy + λ‖w‖₁ over the
prunable weights, so that many weights end near zero. The file records its model spec
and its analysis/evaluation data, so `prunelimit bounds examples/digits-mlp.pt` needs no
flags. Same as:

    prunelimit train --model mlp:64,32,10 --data digits:train --eval-data digits:test \\
        --l1 2e-3 --epochs 100 --lr 0.05 --schedule cosine --batch-size 64 -o examples/digits-mlp.pt --force

Run: python examples/make_example.py   (about 5 s on 2 CPU cores)
"""

from pathlib import Path

from prunelimit import api
from prunelimit.pruning.lomp import LompConfig

OUT = Path(__file__).resolve().parent / "digits-mlp.pt"
CONFIG = LompConfig(epochs=100, lr=0.05, l1=2e-3, schedule="cosine", batch_size=64, seed=0)

if __name__ == "__main__":
    result = api.train("mlp:64,32,10", "digits:train", OUT, CONFIG, eval_data="digits:test", device="cpu", force=True)
    last = result.history[-1]
    print(f"wrote {OUT}: test loss {last.eval_loss:.4f}, test accuracy {100 * last.eval_accuracy:.2f} %")
