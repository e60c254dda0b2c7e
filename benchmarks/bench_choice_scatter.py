"""How much the default's exact-vs-SLQ prediction scatters from one timing to the next.

Repeats the default's timing (``api.curvature._cost_aware_choice``: the timed products and
eigenvalues, nothing else) on the bundled example and prints each prediction of the exact
spectrum's seconds (and of its eigenvalues) and the solver it picks. ``--spin N`` keeps N busy-looping processes
running meanwhile (other load on a shared machine; with ``--threads`` above the idle cores,
torch's threads wait for a core).

    python benchmarks/bench_choice_scatter.py --threads 2 --timings 15 --spin 1
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics

from prunelimit.api import CurvatureOptions
from prunelimit.api.curvature import _cost_aware_choice
from prunelimit.api.options import choose_solver
from prunelimit.inputs import load_inputs
from prunelimit.models.params import hessian_parameters
from prunelimit.threads import apply_threads


def spin() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timings", type=int, default=15)
    parser.add_argument("--spin", type=int, default=0, help="busy-looping processes to run meanwhile")
    parser.add_argument("--checkpoint", default="examples/digits-mlp.pt")
    args = parser.parse_args()
    apply_threads(args.threads)
    inputs = load_inputs(args.checkpoint, data_from_checkpoint=True)
    options = CurvatureOptions()
    dim = sum(p.numel() for _, p in hessian_parameters(inputs.model, inputs.selection))
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.spin)]
    for process in spinners:
        process.start()
    predicted, solvers = [], []
    try:
        for i in range(args.timings):
            choice, _, _, eigen = _cost_aware_choice(inputs, options, dim, choose_solver(options, dim))
            predicted.append(choice.predicted_exact_seconds)
            solvers.append(choice.solver)
            print(f"{i + 1:>3}  load {os.getloadavg()[0]:5.2f}  predicted {choice.predicted_exact_seconds:7.1f} s "
                  f"(eigenvalues {eigen:5.1f})  {choice.solver}", flush=True)
    finally:
        for process in spinners:
            process.terminate()
    print(f"threads {args.threads}, {args.spin} spinning, {args.timings} timings: predicted {min(predicted):.1f} to "
          f"{max(predicted):.1f} s (median {statistics.median(predicted):.1f}); exact {solvers.count('exact')}, "
          f"slq {solvers.count('slq-h')}")


if __name__ == "__main__":
    main()
