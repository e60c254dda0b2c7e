"""What a command pays besides the spectrum: a cached ``bounds`` and ``gate`` on the bundled example.

Each command runs in this process through typer's runner (as the test suite runs them), the
first time to fill a private cache, then ``--repeat`` times more; the best of those is printed
with the time spent looking the spectrum up (``api.stored.stored_spectrum``: its keys and the
entry read back) and inside the report's provenance (``baseline.provenance``: ``weights.python`` and the TorchScript digests).
Run it from two checkouts to compare them: the peer here is the code before a change.

``--large`` then times the three keys a gate's lookup tries on a 5.8M-parameter MLP over 4,096
samples, side by side in this run: each read by ``cache.input_key`` alone, as every key was
read before, and all three by one ``cache.InputKeys``, as the lookups read them now.

``--archive`` adds a cached ``gate`` of a scripted 25M-weight MLP saved as a 100 MB TorchScript
archive (``--trust-pickle``, 256 digits, a fixed 1 × 4 SLQ plan: filling the cache takes a minute
or two), where what a command pays besides the spectrum grows with the model: its weights
sorted, saved and hashed.

    PYTHONPATH=. python benchmarks/bench_cached_command.py [--repeat 7] [--large] [--archive]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits-mlp.pt"
COMMANDS = {"bounds": ["bounds", str(EXAMPLE), "--json"],
            "gate": ["gate", str(EXAMPLE), "--min-ratio", "0.5", "--json"]}


@contextlib.contextmanager
def timed(modules, name: str, spent: list[float]):
    """``name`` in each of ``modules`` (those that import it by name too) with each call's seconds
    added to ``spent``."""
    real = getattr(modules[0], name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)

    held = [module for module in modules if getattr(module, name, None) is real]
    for module in held:
        setattr(module, name, wrapper)
    try:
        yield
    finally:
        for module in held:
            setattr(module, name, real)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--large", action="store_true", help="also time three keys of a 5.8M-parameter MLP")
    parser.add_argument("--archive", action="store_true", help="also a cached gate of a 100 MB TorchScript archive")
    args = parser.parse_args()
    import torch
    from typer.testing import CliRunner

    from prunelimit import baseline
    from prunelimit.api import layers, limit, stored
    from prunelimit.cli import app

    torch.set_num_threads(1)
    runner = CliRunner()
    os.environ["PRUNELIMIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-cached-")
    commands = dict(COMMANDS)
    if args.archive:
        commands["gate (archive)"] = ["gate", str(scripted_archive(Path(os.environ["PRUNELIMIT_CACHE_DIR"]))),
                                      "--trust-pickle", "--data", "digits:train", "--max-samples", "256",
                                      "--iterations", "4", "--runs", "1", "--min-ratio", "0.1", "--exit-zero", "--json"]
    print(f"{'command':14} {'best s':>8} {'lookup s':>9} {'provenance s':>13}")
    for name, argv in commands.items():
        assert runner.invoke(app, argv).exit_code == 0, name  # fills the cache
        best = None
        for _ in range(args.repeat):
            lookup: list[float] = []
            provenance: list[float] = []
            with timed([stored, limit, layers], "stored_spectrum", lookup), \
                    timed([baseline], "provenance", provenance):
                start = time.perf_counter()
                result = runner.invoke(app, argv)
                seconds = time.perf_counter() - start
            assert result.exit_code == 0 and '"cached": true' in result.stdout, result.stdout[-400:]
            if best is None or seconds < best[0]:
                best = (seconds, sum(lookup), sum(provenance))
        print(f"{name:14} {best[0]:8.3f} {best[1]:9.3f} {best[2]:13.3f}")
    if args.large:
        large_keys(args.repeat)


def scripted_archive(folder: Path) -> Path:
    """A scripted ``mlp:64,5000,5000,10`` (25.4M weights, seeded) saved as TorchScript in ``folder``."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 5000), torch.nn.ReLU(), torch.nn.Linear(5000, 5000),
                                torch.nn.ReLU(), torch.nn.Linear(5000, 10))
    path = folder / "mlp-25m.pt"
    torch.jit.save(torch.jit.script(model), str(path))
    return path


def large_keys(repeat: int) -> None:
    """Best of ``repeat``: three keys read one by one against one ``InputKeys``, in turns."""
    import torch

    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import InputKeys, input_key

    torch.manual_seed(0)
    data = (torch.randn(4096, 784), torch.randint(0, 10, (4096,)))
    model = torch.nn.Sequential(torch.nn.Linear(784, 2048), torch.nn.ReLU(), torch.nn.Linear(2048, 2048),
                                torch.nn.ReLU(), torch.nn.Linear(2048, 10))
    inputs = prunelimit.inputs_from(model, data)
    asked = [("spectrum", CurvatureOptions()), ("spectrum", CurvatureOptions(method="slq")),
             ("adaptive", CurvatureOptions())]

    def separately() -> list[str]:
        return [input_key(inputs, kind, options) for kind, options in asked]

    def together() -> list[str]:
        keys = InputKeys(inputs)
        return [keys(kind, options) for kind, options in asked]

    ways = {"input_key x3": separately, "InputKeys": together}
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(repeat):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            best[name] = min(best[name], time.perf_counter() - start)
    print(f"three keys, {sum(p.numel() for p in model.parameters()):,} parameters, 4,096 samples: "
          + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in best.items())
          + f" ({best['input_key x3'] / best['InputKeys']:.1f}x)")


if __name__ == "__main__":
    main()
