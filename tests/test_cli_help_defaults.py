"""Every number an option's `--help` text states as a default is the constant the code uses
(`--iterations` said "default 200" beside ``DEFAULT_ITERATIONS``, `--method` "D ≤ 16,384"
beside ``MAX_DIM``, `--memory-budget` "1024 on a CPU" beside ``CPU_MEMORY_BUDGET_MB``: a
changed constant left the text stale), and every other number in a help text is named here
as no default, so a new hard-coded one fails until it is tied to its constant."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import typer

from prunelimit.api.options import (ACCELERATOR_BUDGET_SHARE, CPU_MEMORY_BUDGET_MB, DEFAULT_MAX_HVPS, PAPER_ITERATIONS,
                                    PAPER_RUNS, TIMED_PRODUCTS)
from prunelimit.cli import app
from prunelimit.curvature.exact import MAX_DIM
from prunelimit.curvature.slq import DEFAULT_ITERATIONS, DEFAULT_RUNS
from prunelimit.data.subsample import AUTO_HESSIAN_SAMPLES, DATA_PARTS
from prunelimit.laws.imp import ImpConfig
from prunelimit.laws.nplh import DEFAULT_PRESSURES
from prunelimit.library import FINETUNE_EPOCHS, FINETUNE_LR
from prunelimit.pruning.finetune import FinetuneConfig
from prunelimit.pruning.lomp import TRAIN_DEFAULTS, LompConfig

NUMBER = r"(-?[\d,.]+(?:e-?\d+)?(?:/\d+)?)"

# (command, option, the text around each default with NUMBER where it stands, the constants in order)
TIED = [
    ("bounds", "--method", f"D ≤ {NUMBER}", (MAX_DIM,)),
    ("bounds", "--iterations", f"default {NUMBER}; --method paper {NUMBER}", (DEFAULT_ITERATIONS, PAPER_ITERATIONS)),
    ("bounds", "--runs", f"default {NUMBER}; --method paper {NUMBER}", (DEFAULT_RUNS, PAPER_RUNS)),
    ("bounds", "--memory-budget", f"auto \\({NUMBER} on a CPU, {NUMBER} of the free memory on a GPU",
     (CPU_MEMORY_BUDGET_MB, ACCELERATOR_BUDGET_SHARE)),
    ("bounds", "--max-hvps", f"default: {NUMBER}, what the old fixed {NUMBER} × {NUMBER} plan spent",
     (DEFAULT_MAX_HVPS, DEFAULT_RUNS, DEFAULT_ITERATIONS)),
    ("bounds", "--max-hvps", f"the default's {NUMBER} timed products", (TIMED_PRODUCTS,)),
    ("bounds", "--max-hvps", f"below D \\+ {NUMBER}", (TIMED_PRODUCTS,)),
    ("bounds", "--hessian-samples", f"auto \\({NUMBER} samples, or {NUMBER} a class", (AUTO_HESSIAN_SAMPLES, DATA_PARTS)),
    ("bounds", "--hessian-samples", f"N \\(at least {NUMBER}, and {NUMBER} a class", (DATA_PARTS, DATA_PARTS)),
    ("bounds", "--hessian-samples", f"split into {NUMBER} parts", (DATA_PARTS,)),
    ("verify", "--finetune-lr", f"momentum {NUMBER}", (FinetuneConfig.momentum,)),
    ("train", "--l1", f"default {NUMBER}, or the preset's", (TRAIN_DEFAULTS.l1,)),
    ("train", "--epochs", f"default {NUMBER}, or the preset's", (TRAIN_DEFAULTS.epochs,)),
    ("train", "--lr", f"default {NUMBER}, or the preset's", (TRAIN_DEFAULTS.lr,)),
    ("train", "--warmup-epochs", f"default {NUMBER}, or the preset's", (TRAIN_DEFAULTS.warmup_epochs,)),
    ("train", "--milestones", f"multiplied by {NUMBER}", (LompConfig.gamma,)),
    ("imp", "--rewind-steps", f"default: {NUMBER}", (ImpConfig.rewind_steps,)),
    ("law nplh", "--pressures", f"2\\^k for k = {NUMBER}, {NUMBER}, \\.\\.\\., {NUMBER}",
     tuple(math.log2(p) for p in (DEFAULT_PRESSURES[0], DEFAULT_PRESSURES[1], DEFAULT_PRESSURES[-1]))),
]

# (command, option, constant): the default `--help` shows as "[default: …]", from the signature
SHOWN = [
    ("verify", "--finetune-epochs", FINETUNE_EPOCHS),
    ("verify", "--finetune-lr", FINETUNE_LR),
    ("prune", "--finetune-lr", FinetuneConfig.lr),
    ("train", "--momentum", LompConfig.momentum),
]

# Numbers in help texts that are no default: examples, ranges, units, names.
NOT_DEFAULTS = ["mlp:64,32,10", "resnet18-cifar:num_classes=100", "2+ dimensions", "1-D", "[0, 1)", "(0, 1)",
                "in ratio units below 1 (0.01 = one point)", "(95 %)", "float32", "2:4", "--ratio 0.5", "batch 1",
                "level 0", "Γ = 0", "[0.25, 1, 4]", "Exit 1", "exit 0", "exit 2", "λ < 0 counts as 0",
                "1 − accuracy", "0 from a checkpoint", "λ‖w‖₁", "l1", "D × t_HVP", "weight_ih_l0",
                "weight_hh_l0", "weights stay 0", "2 largest of every 4", "cifar10"]


def _help_texts() -> dict[tuple[str, str], str]:
    """``(command path, option) -> help`` of every option of every command, unwrapped."""
    texts = {}

    def walk(command, path):
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())
        for param in getattr(command, "params", []) if not hasattr(command, "commands") else []:
            texts[path, param.opts[0]] = " ".join((param.help or "").split())

    walk(typer.main.get_command(app), "")
    return texts


def _value(text: str) -> float:
    return float(Fraction(text.replace(",", "").rstrip(".")))


def test_every_default_a_help_text_states_is_the_constant():
    texts = _help_texts()
    for command, option, pattern, constants in TIED:
        match = re.search(pattern, texts[command, option])
        assert match, (command, option, pattern, texts[command, option])
        stated = [_value(group) for group in match.groups()]
        assert stated == [float(c) for c in constants], (command, option, match[0], constants)


def test_every_other_number_in_a_help_text_is_named_as_no_default():
    texts = _help_texts()
    stray = {}
    for (command, option), text in texts.items():
        for _, tied_option, pattern, _ in TIED:  # a shared option reads the same in every command
            if tied_option == option:
                text = re.sub(pattern, "", text)
        for phrase in NOT_DEFAULTS:
            text = text.replace(phrase, "")
        if re.search(r"\d", text):
            stray[command, option] = text
    assert not stray, stray


def test_every_shown_default_that_a_constant_holds_is_that_constant():
    root = typer.main.get_command(app)
    for command, option, constant in SHOWN:
        (param,) = [p for p in root.commands[command].params if option in p.opts]
        assert param.default == constant, (command, option, param.default, constant)
