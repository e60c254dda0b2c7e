"""The summaries ``benchmarks/gpu_checks.sh`` prints from the JSON its ``prunelimit bounds`` runs wrote.

    python benchmarks/gpu_checks_report.py compare OUT DEVICE...   # part 1: the same numbers on each device
    python benchmarks/gpu_checks_report.py answer FILE.json        # part 3: time to answer

A run that failed, was cut short by its timeout, or wrote no JSON is named (with the last
line of its ``.err`` beside it) instead of ending the summary, so the other runs still print.
The keys read are those of the current ``prunelimit.bounds/1`` JSON (tests/benchmarks/test_gpu_checks.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

VARIANTS = ("exact", "paper", "revrev")


def read(path: Path) -> dict[str, Any] | None:
    """The run's JSON, or ``None`` (with a line saying why) where it wrote none that parses."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        err = path.with_suffix(".err")
        lines = err.read_text(errors="replace").strip().splitlines() if err.exists() else []
        print(f"FAILED: {path.name} holds no JSON" + (f" ({lines[-1]})" if lines else ""))
        return None


def run_line(name: str, device: str, doc: dict[str, Any]) -> str:
    p, m, t = doc["prediction"], doc["memory"], doc["timing"]
    return (f"{name:7s} {device:5s} rho* {p['ratio']:.6f} continuous {p['continuous_ratio']:.6f} "
            f"lambda_max {doc['spectrum']['lambda_max']:.6g} {t['hvps']} HVPs in {t['seconds']:.2f} s "
            f"engine {m['hvp_engine']} basis {m['basis_kind']} peak device {m['peak_device_mb']}")


def compare(out: Path, devices: list[str]) -> None:
    """Part 1: each variant's numbers on each device, and how far the devices' continuous ρ* lie apart."""
    for name in VARIANTS:
        docs = {d: doc for d in devices if (doc := read(out / f"bounds-{name}-{d}.json")) is not None}
        for device, doc in docs.items():
            print(run_line(name, device, doc))
        if len(docs) == 2:
            a, b = (doc["prediction"]["continuous_ratio"] for doc in docs.values())
            print(f"{name:7s} |continuous rho* {' - '.join(docs)}| = {abs(a - b):.2e}")


def answer(path: Path) -> None:
    """Part 3: the default's HVPs, time, ρ* ±, its parts, the TF32 switches and what stopped it."""
    doc = read(path)
    if doc is None:
        return
    p, s, t = doc["prediction"], doc["spectrum"], doc["timing"]
    stages = ", ".join(f"{k} {v['seconds']:.1f} s/{v['hvps']} HVPs" for k, v in t["stages"].items())
    print(f"time to answer: {t['seconds']:.1f} s, {t['hvps']} HVPs ({t['hvp_passes']:g} passes; {stages}); "
          f"rho* {p['ratio']} +- {p['uncertainty']['plus_minus']}; {s['choice']['solver']} "
          f"({s['choice']['reason']}), stopped by {s['stopped_by']}, {s['runs']} x {s['iterations']}, "
          f"curvature on {s['hessian_samples']['used']} of {s['hessian_samples']['total']} samples")
    parts = {k: p["uncertainty"][k] for k in ("steps", "probes", "data", "rounding")}
    switches = {k: doc["precision"][k] for k in ("cudnn_tf32", "cuda_matmul_tf32", "tf32_override")}
    print("  parts of the ±: " + ", ".join(f"{k} {v:.3g}" if v is not None else f"{k} none" for k, v in parts.items())
          + "; " + ", ".join(f"{k} {v}" for k, v in switches.items()))
    for warning in doc["warnings"]:
        print(f"  warning: {warning}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parts = parser.add_subparsers(dest="part", required=True)
    part1 = parts.add_parser("compare", help="part 1: each variant on each device")
    part1.add_argument("out", type=Path)
    part1.add_argument("devices", nargs="+")
    parts.add_parser("answer", help="part 3: time to answer").add_argument("file", type=Path)
    args = parser.parse_args(argv)
    if args.part == "compare":
        compare(args.out, args.devices)
    else:
        answer(args.file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
