"""A command that computes its spectrum (a fresh cache) sorted every prunable weight by magnitude
once for the spectrum's ε target and once more for the rest of the command (and a third time on the
default's exact spectrum, solved again for the default budgets' entry that was its own key), and
solved ρ* on one rule two or three times: the fixed plan's progress status after its runs, whether
to measure the products' error again and the answer (the bracket's ends twice with them), an exact
spectrum's again for that entry, and each one-run rule's per-run ρ*, which is ρ* itself. A sort of
4.1M weights took ~1 s (docs/benchmarks.md). Counted, not timed; the reports are the ones before
(their JSON compared apart from timings, docs/benchmarks.md)."""

from __future__ import annotations

import collections
import json

import pytest

from prunelimit.api.limit import bounds
from prunelimit.api.options import CurvatureOptions
from prunelimit.cache import open_store
from prunelimit.library import inputs_from
from prunelimit.theory.profile import MagnitudeProfile
from tests.api.test_bounds_weights_sorted_once import _counting

# three runs: a jackknife's leave-one-out rules of two would be each run's own, a root solved twice
PLANS = {"exact": (), "a fixed plan": ("--method", "slq", "--runs", "3", "--iterations", "12"),
         "one run": ("--method", "slq", "--runs", "1", "--iterations", "12")}
COMMANDS = {"bounds": ("bounds",), "gate": ("gate", "--min-ratio", "0.0"), "verify": ("verify",),
            "prune --ratio auto": ("prune", "--ratio", "auto")}


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_fresh_command_sorts_once_and_solves_the_limit_once(cli, own_ckpt, tiny_model, tmp_path, monkeypatch,
                                                              roots, command, plan):
    args = COMMANDS[command]
    output = ("-o", tmp_path / "pruned.pt") if args[0] == "prune" else ()
    whole = _counting(monkeypatch, MagnitudeProfile)
    result = cli(*args[:1], own_ckpt, *args[1:], *PLANS[plan], *output, "--max-samples", 300,
                 "--cache-dir", tmp_path / "cache", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    predicted = {"gate": report.get("bounds"), "prune": None}.get(args[0], report)
    assert predicted is None or predicted["timing"]["cached"] is False  # computed here
    n = sum(p.numel() for p in tiny_model.parameters() if p.dim() > 1)  # every weight matrix: prunable
    assert whole.count(n) == 1, whole  # 2 before (3 on the exact spectrum)
    ratio = report["ratio"]["requested"] if args[0] == "prune" else predicted["prediction"]["ratio"]
    assert roots.count(ratio) == 1, roots  # 3-7 before (solves of ρ*'s rule and of a one-run rule)


@pytest.mark.parametrize("plan", [CurvatureOptions(), CurvatureOptions(method="slq", runs=3, iterations=12),
                                  CurvatureOptions(method="slq", runs=1, iterations=12)])
def test_each_rule_is_solved_once(tiny_model, train, tmp_path, roots, plan):
    """Without a progress bar (whose status solves each doubling of the runs so far, one run's
    rule among them) every rule's root is solved once: ρ*, each run's own, the half-step
    rule's, the bracket's ends and the jackknife's leave-one-out rules are distinct roots."""
    rep = bounds(inputs_from(tiny_model, train), plan, store=open_store(tmp_path / "cache", True))
    assert not rep.spectrum.cached
    # a clipped root is an end of [0, 1], which two rules may share
    solved = collections.Counter(root for root in roots if 0.0 < root < 1.0)
    assert solved[rep.ratio] == 1 and max(solved.values()) == 1, solved
