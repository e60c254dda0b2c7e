"""Numbers the guide quotes in its prose from a run on the bundled example, next to the command
that gave them, are what that command prints today. They were checked by nothing and went stale
as the code changed: the data part over a subset became a delete-a-group jackknife, and
`prune … --max-hvps 20 --hessian-samples 400` came to print `data 0.041 pt s.e.` where the guide
said 0.039; `--method slq --hessian-samples 60` came to state `± 1.2 pt` where it said 1.8;
a `--method paper` gate printed `continuous ρ* (same spectrum): 91.87 %` where it said 91.36 %.
Each command here takes seconds (SLQ, or a capped or fixed plan, on the 2,410-parameter
example, one thread); the runs are seeded, so the quoted digits are compared as printed."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from prunelimit.theory.uncertainty import Uncertainty

ROOT = Path(__file__).resolve().parents[1]
GUIDE = " ".join((ROOT / "docs" / "guide.md").read_text(encoding="utf-8").split())
EXAMPLE = ROOT / "examples" / "digits-mlp.pt"
QUICK = ("--no-cache", "--threads", "1")


def _flat(text: str) -> str:
    return " ".join(text.split())


def _pt(ratio: float) -> str:
    """A ± in points as the console writes it: two significant digits."""
    return f"{100 * ratio:.2g}"


def test_the_subset_prune_the_guide_measures_prints_what_it_quotes(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    said = re.search(r"Measured with `(prunelimit prune [^`]*)`: (\d+) products, `([^`]*), incomplete: …`", GUIDE)
    assert said is not None
    args = shlex.split(said[1])[1:]
    args[args.index("-o") + 1] = str(tmp_path / "p.pt")
    run = cli(*[str(ROOT / a) if a.startswith("examples/") else a for a in args], *QUICK)
    assert run.exit_code == 0, run.stderr
    printed = _flat(run.stdout)
    assert f"predicted {said[3]}, incomplete:" in printed  # every part as quoted, the data part's s.e. too
    assert f"spectrum behind the ratio: {said[2]} HVPs" in printed


def test_the_subset_whose_data_part_takes_the_plus_minus_over_states_what_the_guide_quotes(cli) -> None:
    said = re.search(r"the bundled example on 60 curvature samples \(`([^`]*)`\), its runs at ± ([\d.]+) pt, "
                     r"its whole `±` ([\d.]+) pt against 1 pt", GUIDE)
    assert said is not None
    run = cli("bounds", EXAMPLE, *shlex.split(said[1]), "--json", *QUICK)
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    stated = Uncertainty.from_json(doc["prediction"]["uncertainty"])
    runs = Uncertainty(probes=stated.probes, steps=stated.steps, data=None, runs=stated.runs,
                       steps_kind=stated.steps_kind, probes_kind=stated.probes_kind)  # the runs' parts alone
    assert doc["spectrum"]["tolerance_met"] is False and doc["spectrum"]["stopped_by"] == "tolerance"
    assert (_pt(runs.plus_minus), _pt(stated.plus_minus)) == (said[2], said[3])


def test_the_layer_paths_plus_minus_is_what_the_guide_quotes(cli, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    said = re.search(r"the runs did not aim at: ± ([\d.]+) pt on the bundled example, its global path's ([\d.]+) pt",
                     GUIDE)
    assert said is not None
    run = cli("bounds", EXAMPLE, "--method", "slq", "--scope", "layer", *QUICK)
    assert run.exit_code == 0, run.stderr
    assert re.search(rf"ρ\* = [\d.]+ % ± {re.escape(said[1])} pt \(95 %", _flat(run.stdout))
    # the global path's is the README's and the guide's `--method slq` line, which
    # tests/test_ci_examples.py compares with a run
    assert f"ρ* = 91.84 % ± {said[2]} pt (95 %" in GUIDE


def test_a_paper_gates_continuous_line_is_what_the_guide_quotes(cli, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    said = re.search(r"\(gate as `(continuous ρ\* \(same spectrum\): [\d.]+ %)` on the bundled example;", GUIDE)
    assert said is not None
    run = cli("gate", EXAMPLE, "--method", "paper", "--min-ratio", "0.5", *QUICK)
    assert run.exit_code == 0, run.stderr
    assert said[1] in run.stdout.splitlines()


def test_the_per_layer_blocks_lines_are_what_the_guide_quotes(cli, monkeypatch) -> None:
    """The guide showed an `alone ρ*` cell (`94.6 % ± 2.1 pt`) and a budget warning (`took 99
    products`) that no run of the bundled example gave; it now quotes the example's."""
    monkeypatch.setenv("COLUMNS", "200")
    alone = re.search(r"show it beside the ratio \(`([^`]*)`: the bundled example's `([^`]*)` under `([^`]*)`\)", GUIDE)
    took = re.search(r"`(--per-layer's blocks took \d+ products and) [\d.]+ s after the spectrum, outside (--max-hvps), …` "
                     r"on the bundled example under `([^`]*)`", GUIDE)
    assert alone is not None and took is not None
    table = cli("bounds", EXAMPLE, "--per-layer", *shlex.split(alone[3]), *QUICK)
    assert table.exit_code == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if f" {alone[2]} " in line)
    assert row.rstrip(" │").endswith(alone[1])
    budget = cli("bounds", EXAMPLE, "--per-layer", *shlex.split(took[3]), *QUICK)
    assert budget.exit_code == 0, budget.stderr
    assert f"warning: {took[1]}" in _flat(budget.stdout + budget.stderr) and took[2] in budget.stdout + budget.stderr


def test_the_gate_lines_the_guide_quotes_are_what_the_gate_prints(cli, monkeypatch) -> None:
    """A requirement shown to 5 decimals, and a `±` wider than its ρ* under `--max-hvps 4`,
    both of `--use predicted` on the bundled example (checked right, pinned here)."""
    monkeypatch.setenv("COLUMNS", "200")
    decimals = re.search(r"`--min-ratio ([\d.]+)` reads `(ρ\* [^`]*)`", GUIDE)
    narrow = re.search(r"`(ρ\* [\d.]+ − [\d.]+ = [\d.]+ < required ([\d.]+))` under `--max-hvps (\d+)` on the bundled "
                       r"example, whose exact `ρ\*` is ([\d.]+)", GUIDE)
    assert decimals is not None and narrow is not None
    slq = cli("gate", EXAMPLE, "--use", "predicted", "--method", "slq", "--min-ratio", decimals[1], *QUICK)
    assert slq.exit_code == 0 and f"PASS predicted ratio >= {decimals[1]}: {decimals[2]}" in slq.stdout
    cut = cli("gate", EXAMPLE, "--use", "predicted", "--max-hvps", narrow[3], "--min-ratio", narrow[2], *QUICK)
    assert cut.exit_code == 1 and f": {narrow[1]}" in cut.stdout
    assert narrow[4] == "0.9183"  # the exact ρ* the README's and the guide's shown outputs print (91.83 %)


def test_the_stderr_beside_the_plus_minus_is_what_the_guide_quotes(cli) -> None:
    """`prediction.stderr` (1σ) against the `±` under `--max-hvps 60` (checked right, pinned here)."""
    said = re.search(r"combined: ([\d.]+) where the `±` is ([\d.]+) under `--max-hvps (\d+)`", GUIDE)
    assert said is not None
    run = cli("bounds", EXAMPLE, "--max-hvps", said[3], "--json", *QUICK)
    assert run.exit_code == 0, run.stderr
    prediction = json.loads(run.stdout)["prediction"]
    assert (f"{prediction['stderr']:.2g}", f"{prediction['uncertainty']['plus_minus']:.2g}") == (said[1], said[2])


def test_the_fixed_plans_slice_error_plus_minus_is_what_the_guide_quotes() -> None:
    """A fixed plan's ± at the data's error against the slice's that a `--tolerance 0.5` run
    stores: the guide quoted ± 14.5 and 16.9 pt on an MLP it did not name, where the 8-12-3 one
    its cache test fits states 15.8 and 17.6 (tests/cache/test_cache_fixed_plan_error.py);
    one thread (the suite's), so the float32 products' summation order, and the digits, are fixed."""
    import prunelimit
    from prunelimit.api.limit import bounds
    from prunelimit.api.options import CurvatureOptions
    from tests.api.test_measured_slice import _fitted

    said = re.search(r"`--tolerance 0.001` after `--tolerance 0.5` under `--iterations (\d+) --runs (\d+)` on the "
                     r"8-12-3 MLP fitted near zero loss to (\d+) samples of `tests/cache/test_cache_fixed_plan_error.py`: "
                     r"± ([\d.]+) pt at the data's error, not the stored ± ([\d.]+) pt at the slice's", GUIDE)
    assert said is not None
    model, data = _fitted(int(said[3]), 12)
    inputs = prunelimit.inputs_from(model, data, batch_size=64)
    plan = {"iterations": int(said[1]), "runs": int(said[2])}
    # the stored answer's ± is the one a `--tolerance 0.5` run states (the cache test reads it back so)
    data_error, slice_error = (bounds(inputs, CurvatureOptions(**plan, tolerance=t)).uncertainty.plus_minus
                               for t in (0.001, 0.5))
    assert (f"{100 * data_error:.1f}", f"{100 * slice_error:.1f}") == (said[4], said[5])


def test_a_lanczos_blocks_own_rho_is_what_the_guides_layer_table_quotes(tiny_model, train) -> None:
    """The `limit_alone_plus_minus` row's example: the untrained 64-12-10 MLP's `0.weight`
    on 300 digits, seed 0, its Lanczos block's own ρ* and ± against its exact block's
    (tests/theory/test_layers_alone_plus_minus.py checks that the ± holds it)."""
    import prunelimit

    said = re.search(r"\(the untrained 64-12-10 MLP's `0\.weight` on (\d+) digits, seed 0: ([\d.]+) % ± ([\d.]+) pt "
                     r"against ([\d.]+) % from its exact block\)", GUIDE)
    assert said is not None and int(said[1]) == len(train[1])
    own = {method: next(layer for layer in prunelimit.spectrum(tiny_model, train, method=method, seed=0,
                                                               per_layer=True).layers.layers
                        if layer.name == "0.weight") for method in ("slq", "exact")}
    assert (f"{100 * own['slq'].limit_alone:.2f}", _pt(own["slq"].limit_alone_plus_minus),
            f"{100 * own['exact'].limit_alone:.2f}") == (said[2], said[3], said[4])


def test_the_paper_grid_part_on_the_17_parameter_mlp_is_what_methods_quotes(mlp17) -> None:
    """methods.md quoted a grid part of 7.8 pt, R about 2 and a 3.3 pt gap for a 17-parameter
    MLP no document or test built; the one the tests fit (the `mlp17` fixture) states 29 pt,
    R 0.56 and a 2.8 pt gap."""
    import warnings

    import prunelimit

    methods = _flat((ROOT / "docs" / "methods.md").read_text(encoding="utf-8"))
    said = re.search(r"; ([\d.]+) pt on the 17-parameter MLP of `tests/theory/test_paper_rounding.py`, whose `R` is "
                     r"about ([\d.]+), where the answer lay ([\d.]+) pt from the continuous root", methods)
    assert said is not None
    model, data = mlp17
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiny model's regime warnings
        run = prunelimit.bounds(model, data, method="paper")
    assert (_pt(run.uncertainty.grid), f"{run.prediction.radius:.2g}", _pt(abs(run.ratio - run.prediction.ratio))) \
        == (said[1], said[2], said[3])


def test_the_class_weighted_loss_is_what_the_library_page_quotes(tiny_model, train) -> None:
    """library.md's class-weight example (an MLP it did not name): the batches' mean loss
    that prunelimit analyses beside torch's weighted mean over all the data."""
    import warnings

    import torch

    import prunelimit

    page = _flat((ROOT / "docs" / "library.md").read_text(encoding="utf-8"))
    said = re.search(r"\((\d+) bundled digits in batches of (\d+), `weight=torch.linspace\(0.2, 3.0, 10\)`: ([\d.]+) "
                     r"for ([\d.]+) on the untrained `mlp:64,12,10` of seed 0", page)
    assert said is not None and int(said[1]) == len(train[1])
    criterion = torch.nn.CrossEntropyLoss(weight=torch.linspace(0.2, 3.0, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the class-weight warning the page goes on to quote
        run = prunelimit.bounds(tiny_model, train, loss=criterion, method="exact", batch_size=int(said[2]))
    with torch.no_grad():
        whole = float(criterion(tiny_model(train[0]), train[1]))
    assert (f"{run.spectrum.loss:.4f}", f"{whole:.4f}") == (said[3], said[4])


def test_a_formed_blocks_subset_plus_minus_is_what_the_guide_quotes(small_model, train) -> None:
    """The guide's per-layer subset example now names a model the tests build (it quoted a
    bag-of-words net no document defines): a formed block's trace over the subset, its ±
    and the trace over all the data."""
    import prunelimit

    said = re.search(r"now the untrained 64-4-10 MLP's `2\.weight` \(40 weights, formed\) over (\d+) of (\d+) digits, "
                     r"seed (\d+) \(`[^`]*`\), reads `([\d.]+) ± ([\d.]+)` against `([\d.]+)` on all of them", GUIDE)
    assert said is not None and int(said[2]) == len(train[1])
    subset, full = (next(layer for layer in prunelimit.spectrum(small_model, train, per_layer=True, **options)
                         .layers.layers if layer.name == "2.weight")
                    for options in ({"method": "slq", "hessian_samples": int(said[1]), "seed": int(said[3])},
                                    {"method": "exact"}))
    assert (f"{subset.trace:.3g}", f"{subset.trace_plus_minus:.2g}", f"{full.trace:.3g}") == (said[4], said[5], said[6])
