"""Time to a trustworthy answer: the adaptive default against the old default and the paper's plan.

For each model of ``time_to_answer_models.py`` (real data, trained here) it runs, through
the CLI on one torch thread, side by side in one run:

* ``old-default``: the old fixed plan, 8 probes × 200 Lanczos steps (for D ≤ 10,000 the
  old default was the exact spectrum: that arm's cost is the exact reference's own);
* ``paper``: the reference code's 1 probe × 128 steps (``--method paper``);
* ``new-default``: ``prunelimit bounds`` with every default (``--no-cache``).

and sets each ρ* beside the model's reference (the exact float64 spectrum, or a long
float64 SLQ whose tridiagonals ``time_to_answer_models.py reference`` saved, with the
bracket that certifies it). It prints,
per model and arm: HVPs, HVP passes (products × the share of the data they run over),
wall time, ρ*, its stated ±, |ρ* − reference|, whether the ± covers the reference, and
the old default's HVPs over this arm's.

    python benchmarks/time_to_answer_models.py data && python benchmarks/time_to_answer_models.py train
    python benchmarks/time_to_answer_models.py reference NAMES  # once; slow (float64; digits-cnn's takes hours)
    python benchmarks/bench_time_to_answer.py [NAMES ...] [--arms new-default,paper,old-default]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import time_to_answer_models as zoo

def reference(case) -> dict:
    """The reference ρ* and, for an exact one, its cost (the old default's for D ≤ 10,000)."""
    ref = zoo.load_reference(case.reference_file)
    return {"ratio": zoo.reference_ratio(ref), "bracket": zoo.reference_bracket(ref), "kind": str(ref["kind"]),
            "dim": int(ref["dim"]), "hvps": int(ref["hvps"]), "seconds": float(ref["seconds"])}


def row(case, arm: str, ref: dict) -> dict:
    """Run ``arm`` on ``case`` (``time_to_answer_models.run_arm``) and compare with ``ref``."""
    out = zoo.run_arm(case, arm)
    report = json.loads((zoo.CACHE / f"{case.name}-{arm}.json").read_text())["report"]
    plus_minus = (report["prediction"].get("uncertainty") or {}).get("plus_minus")
    error = abs(out["ratio"] - ref["ratio"])
    return {
        "model": case.name, "arm": arm, "hvps": out["hvps"], "hvp_passes": report["timing"].get("hvp_passes"),
        "wall_s": out["wall_seconds"], "ratio": out["ratio"], "plus_minus": plus_minus, "error": error,
        "covered": None if plus_minus is None else bool(error <= plus_minus),
        "solver": (report["spectrum"].get("choice") or {}).get("reason"),
        "stopped_by": report["spectrum"].get("stopped_by"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"models (default all): {', '.join(zoo.MODELS)}")
    parser.add_argument("--arms", default="new-default,paper,old-default")
    args = parser.parse_args()
    os.chdir(zoo.ROOT)
    arms = args.arms.split(",")
    rows = []
    for name in args.names or list(zoo.MODELS):
        case = zoo.MODELS[name]
        if not case.reference_file.is_file():
            print(f"{name}: no reference yet (run time_to_answer_models.py reference {name})", file=sys.stderr)
            continue
        ref = reference(case)
        print(f"# {name}: D = {ref['dim']:,}, reference ρ* = {ref['ratio']:.4f} ({ref['kind']})", flush=True)
        old = None
        for arm in arms:
            if arm == "old-default" and ref["kind"] == "exact":
                r = {"model": name, "arm": arm, "hvps": ref["hvps"], "hvp_passes": ref["hvps"],
                     "wall_s": ref["seconds"], "ratio": ref["ratio"], "plus_minus": 0.0, "error": 0.0,
                     "covered": True, "solver": "exact (the reference run itself)", "stopped_by": None}
            else:
                r = row(case, arm, ref)
            rows.append(r)
            print(json.dumps(r), flush=True)
            if arm == "old-default":
                old = r["hvp_passes"]
        for r in rows:
            if r["model"] == name and old:
                r["old_over_this"] = old / max(r["hvp_passes"] or r["hvps"], 1)
    print("\n| model | arm | HVPs | HVP passes | wall s | ρ* | ± | abs(ρ* − ref) | ± covers ref | old / this |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        pm = "—" if r["plus_minus"] is None else f"{r['plus_minus']:.4f}"
        cov = "—" if r["covered"] is None else ("yes" if r["covered"] else "**no**")
        ratio = r.get("old_over_this")
        print(f"| {r['model']} | {r['arm']} | {r['hvps']:,} | {r['hvp_passes'] or r['hvps']:,.0f} | {r['wall_s']:.1f} | "
              f"{r['ratio']:.4f} | {pm} | {r['error']:.4f} | {cov} | {'—' if ratio is None else f'{ratio:.1f}×'} |")


if __name__ == "__main__":
    main()
