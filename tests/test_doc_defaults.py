"""The defaults and thresholds the docs state are the code's: each sentence below is built
from the constant (or the command's option default) it states, so changing one without
the other fails here rather than leaving a document that says another number."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import typer

from prunelimit.api import options
from prunelimit.cli import app
from prunelimit.curvature.layers import LAYER_PROBES, LAYER_STEPS
from prunelimit.curvature.slq import DEFAULT_ITERATIONS, DEFAULT_RUNS, LOCKSTEP_PROBES
from prunelimit.curvature.exact import EXACT_MEMORY_BYTES
from prunelimit.api.curvature import MEASURED_SAMPLES
from prunelimit.data.subsample import AUTO_HESSIAN_SAMPLES
from prunelimit.laws.nplh import DEFAULT_PRESSURES
from prunelimit.pruning.actual import DEFAULT_MAX_EVALUATIONS
from prunelimit.theory import regime

DOCS = Path(__file__).resolve().parents[1] / "docs"
_K = [math.log2(g) for g in DEFAULT_PRESSURES]  # the pressure ladder's exponents
LADDER = f"`2^k` for `k = {_K[0]:g}, {_K[1]:g}, …, {_K[-1]:g}`".replace("-", "−")
WORDS = {1: "One", 2: "Two", 3: "Three", 4: "Four"}
# The products that measure SLQ's float32 ones against float64 (api.curvature._product_error:
# one of each); tests/test_ci_examples.py checks the count a run prints.
MEASURED = 2
PAPER_HVPS = options.PAPER_ITERATIONS + options.TRACE_PROBES - options.PAPER_RUNS + MEASURED


def _default(command: str, option: str):
    """The default of ``option`` in ``prunelimit command --help``."""
    (param,) = [p for p in typer.main.get_command(app).commands[command].params if option in p.opts]
    return param.default


STATED = [
    ("guide.md", f"increasing, default {LADDER};"),
    ("theory.md", f"`--pressures`, default {LADDER})"),
    ("guide.md", f"`--tolerance T` (default {options.CurvatureOptions().tolerance}, in ratio units"),
    ("guide.md", f"`--max-hvps N` (default {options.DEFAULT_MAX_HVPS:,} Lanczos products"),
    ("methods.md", f"(default {options.DEFAULT_MAX_HVPS:,} Lanczos products, the old fixed plan's cost"),
    ("guide.md", f"the default's {options.TIMED_PRODUCTS} timed products"),
    ("guide.md", f"(to {options.TRACE_PROBES} samples in all)"),
    ("methods.md", f"time budget `B` ({options.EXACT_TIME_BUDGET_S:.0f} s,"),
    ("methods.md", f"`P ≤ B`: the exact spectrum; `P > {options.EXACT_TIE_BAND}·B`: adaptive SLQ."),
    ("methods.md", f"(`D ≤ {math.isqrt(EXACT_MEMORY_BYTES // 8):,}`)"),
    ("methods.md", f"{WORDS[options.ADAPTIVE_INITIAL_PROBES]} probes start with {options.ADAPTIVE_INITIAL_STEPS} "
                   "Lanczos steps"),
    ("guide.md", f"{DEFAULT_ITERATIONS} steps × {DEFAULT_RUNS} probes unless given"),
    ("guide.md", f"auto: {AUTO_HESSIAN_SAMPLES:,}, or 4 a class"),
    ("guide.md", f"{LAYER_STEPS} Lanczos steps from {LAYER_PROBES} probes"),
    ("guide.md", f"blocks of at most {LAYER_STEPS * LAYER_PROBES} weights"),
    ("guide.md", f"by default {options.CPU_MEMORY_BUDGET_MB / 1024:.0f} GiB on\na CPU and "
                 f"{options.ACCELERATOR_BUDGET_SHARE.as_integer_ratio()[0]}/"
                 f"{options.ACCELERATOR_BUDGET_SHARE.as_integer_ratio()[1]} of the free memory on a GPU"),
    ("guide.md", f"up to {LOCKSTEP_PROBES} probes in lockstep"),
    ("guide.md", f"at most {DEFAULT_MAX_EVALUATIONS} prune-and-evaluate passes"),
    ("guide.md", f"below\n{regime.NEAR_ZERO:.0e} · the largest |w|".replace("e-0", "e-")),
    ("guide.md", f"l1-shaped at\n{regime.L1_SHAPED_SHARE:.0%} or more".replace("%", " %")),
    ("guide.md", f"fewer than {regime.MIN_WEIGHTS} non-zero prunable weights"),
    ("theory.md", f"(`--eta`, default {_default('bounds', '--eta')}"),
    ("theory.md", f"(`--batch-size`, default {_default('bounds', '--batch-size')})"),
    ("guide.md", f"`--acc-drop` percentage points (default {_default('prune', '--acc-drop')}, as `verify`"),
    ("guide.md", f"within `--acc-drop` points (default\n{_default('verify', '--acc-drop')})"),
    ("methods.md", f"SLQ on `H`, {options.PAPER_ITERATIONS} steps, {options.PAPER_RUNS} probe |"),
    ("methods.md", f"make {PAPER_HVPS} HVPs, whatever the model size"),
    ("methods.md", f"against {PAPER_HVPS} HVPs and 3.0 s with `--method paper`"),
    ("scaling.md", f"measure the float32 products against float64 (one of each, over a "
                   f"{MEASURED_SAMPLES}-sample slice of the curvature data, not a pass each) = **{PAPER_HVPS} HVPs**."),
]


@pytest.mark.parametrize(("doc", "sentence"), STATED, ids=[f"{d}:{s[:40]}" for d, s in STATED])
def test_the_docs_state_the_codes_default(doc: str, sentence: str):
    text = (DOCS / doc).read_text(encoding="utf-8")
    assert " ".join(sentence.split()) in " ".join(text.split()), sentence
