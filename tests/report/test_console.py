"""The console's statement of ρ* ± its uncertainty: the same form in every command, the
value to the decimal its ± is shown to, never ``± 0.00`` for a small ± nor ``nan``."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

import prunelimit
from prunelimit.report import console
from prunelimit.report.console import estimate_line, uncertainty_text
from prunelimit.theory.uncertainty import EXACT, Uncertainty


def _slq(plus_minus: float, steps: float, probes: float) -> dict:
    return {"plus_minus": plus_minus, "steps": steps, "probes": probes, "data": None, "steps_kind": "bracket",
            "probes_kind": "jackknife", "level": 0.95}


@pytest.mark.parametrize("ratio, u, line", [
    (0.9184148, _slq(0.0061848, 0.0048158, 0.00043275),
     "ρ* = 91.84 % ± 0.62 pt (95 %; steps ≤ 0.48 pt, probes 0.043 pt s.e.)"),
    (0.871, _slq(0.004, 0.003, 0.0005), "ρ* = 87.10 % ± 0.40 pt (95 %; steps ≤ 0.30 pt, probes 0.050 pt s.e.)"),
    (0.63761, _slq(0.147, 0.1, 0.02), "ρ* = 64 % ± 15 pt (95 %; steps ≤ 10 pt, probes 2.0 pt s.e.)"),
    (0.63761, _slq(6e-7, 1e-8, 3e-7), "ρ* = 63.761000 % ± 0.000060 pt (95 %; steps ≤ 0.000001 pt, "
                                      "probes 0.000030 pt s.e.)"),
])
def test_the_value_is_shown_to_the_decimal_of_its_plus_minus(ratio, u, line):
    """Two fixed decimals printed a ± of 6e-7 as "± 0.00 pt" and a part of 4e-6 as
    "probes 0.00 pt": each is now shown to two significant digits, ρ* to the ±'s decimal."""
    assert estimate_line(ratio, u) == line


@pytest.mark.parametrize("u", [None, {}, _slq(math.nan, math.nan, 0.001), _slq(math.inf, 0.0, 0.0),
                               {"plus_minus": None, "steps_kind": "bracket"}, {"plus_minus": "0.01"},
                               {"plus_minus": True}, _slq(-0.01, 0.0, 0.0)])
def test_a_missing_or_non_finite_plus_minus_reads_as_none_stated(u):
    line = estimate_line(0.5, u)
    assert line == "ρ* = 50.00 % (no ± stated)" and "nan" not in line and "inf" not in line


def test_a_plus_minus_below_the_last_decimal_is_not_zero():
    line = estimate_line(0.5, _slq(1e-12, 0.0, 5e-13))
    assert "± < 0.000001 pt" in line and "probes < 0.000001 pt" in line and "steps ≤ 0 pt" in line


def test_an_exact_spectrum_states_plus_minus_zero_and_a_paper_grid_its_rounding():
    """An exact spectrum's ρ* is ± 0; ``--method paper`` rounds ρ* onto a 1/1000 grid and
    R to integers, so its ± holds their reach (it was stated ± 0 beside the grid point)."""
    assert estimate_line(0.918341, EXACT.to_json()) == "ρ* = 91.83 % ± 0 (exact spectrum: no sampling error)"
    assert estimate_line(0.918, replace(EXACT, grid=0.0005).to_json()) == \
        "ρ* = 91.800 % ± 0.050 pt (exact spectrum, grid and integer-R rounding ≤ 0.050 pt)"
    paper = Uncertainty(probes=0.0009, steps=0.0018, data=None, runs=1, probes_kind="bound", grid=0.0005)
    assert uncertainty_text(paper.to_json()).endswith("probes 0.090 pt s.e. bound, grid and integer-R rounding ≤ 0.050 pt)")


def test_a_data_part_names_the_parts_it_comes_from():
    """The data part's degrees of freedom come from its parts: the line says how many (a
    report from before them, with no ``data_parts``, reads as it did)."""
    sub = Uncertainty(probes=0.0009, steps=0.0018, data=0.0012, runs=1, probes_kind="bound", data_parts=4)
    assert uncertainty_text(sub.to_json()).endswith("probes 0.090 pt s.e. bound, data 0.12 pt s.e. from 4 parts)")
    exact = replace(EXACT, data=0.0012, data_parts=4)
    assert uncertainty_text(exact.to_json()).endswith("(95 %; exact spectrum of the curvature subset, data 0.12 pt "
                                                      "s.e. from 4 parts)")
    assert uncertainty_text(replace(sub, data_parts=None).to_json()).endswith("data 0.12 pt s.e.)")


def test_bounds_on_an_exact_spectrum_prints_the_same_estimate_line_as_verify_and_gate(capsys):
    """``bounds`` printed "spectrum: exact ..., no sampling error" where ``verify`` and
    ``gate`` print ``ρ* = … ± 0 (exact spectrum: no sampling error)``: one form everywhere."""
    torch.manual_seed(0)
    x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    result = prunelimit.bounds(torch.nn.Sequential(torch.nn.Linear(6, 3)), (x, y), batch_size=16)
    assert result.spectrum.solver == "exact"
    console.render_bounds(result)
    out = capsys.readouterr().out
    assert estimate_line(result.ratio, EXACT.to_json()) in out
    assert "ρ* = " in out and "± 0 (exact spectrum: no sampling error)" in out


def test_the_console_width_follows_columns_set_after_it_was_made(monkeypatch):
    """COLUMNS in the environment when the console is made (the module's import) must not fix
    its width: a later COLUMNS, or a resize, is what a print is laid out for."""
    monkeypatch.setenv("COLUMNS", "80")
    made = type(console.stdout)(highlight=False, emoji=False)
    monkeypatch.setenv("COLUMNS", "131")
    assert made.width == 131


@pytest.mark.parametrize("trace, plus_minus, text", [
    (1234.5678, 152.3, "1235 ± 152"), (23.6189, 7.21, "23.6 ± 7.2"), (0.0123456, 0.000345, "0.01235 ± 0.00034"),
    (22.04123, 0.0, "22.04"), (22.04123, None, "22.04"), (22.04123, math.nan, "22.04"), (None, 1.0, "—"),
    # a trace has any scale: a tiny one keeps two digits of its ± (was "0.000000 ± < 0.000001")
    (3.4567e-8, 1.234e-8, "0.000000035 ± 0.000000012"),
])
def test_a_trace_is_shown_with_its_plus_minus_as_rho_star_is(trace, plus_minus, text):
    """The trace's ± was written with ``.2g`` (± 152 as "1.5e+02") beside the trace to four
    digits whatever the ±: both now go through the report's rounding helpers."""
    assert console.trace_text(trace, plus_minus) == text


def test_bounds_prints_the_trace_with_its_plus_minus(capsys):
    """``bounds`` printed the trace alone (``trace 23.62``) where ``spectrum`` prints its ±."""
    torch.manual_seed(0)
    x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    result = prunelimit.bounds(torch.nn.Sequential(torch.nn.Linear(6, 3)), (x, y), batch_size=16, method="slq",
                               iterations=8, runs=2)
    s = result.spectrum
    assert s.trace_plus_minus > 0
    console.render_bounds(result)
    out = capsys.readouterr().out
    assert f" · trace {console.trace_text(s.trace, s.trace_plus_minus)} (95 %) · " in out


def test_verify_says_what_its_spectrum_cost_and_whether_it_came_from_the_cache(capsys, tmp_path):
    """``verify``'s console did not say whether its spectrum came from the cache (its JSON
    did, as ``bounds``' console does): it prints the same cost line."""
    from dataclasses import replace as changed

    torch.manual_seed(0)
    x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    rep = prunelimit.verify(torch.nn.Sequential(torch.nn.Linear(6, 3)), (x, y), batch_size=16)
    for cached in (False, True):
        shown = changed(rep, bounds=changed(rep.bounds, spectrum=changed(rep.bounds.spectrum, cached=cached)))
        console.render_verify(shown)
        out = capsys.readouterr().out
        assert f"spectrum: {console.cost(shown.bounds.spectrum)}\n" in out
        assert ("(spectrum from the cache; --no-cache recomputes it)" in out) is cached


def test_gate_says_what_its_spectrum_cost_and_whether_it_came_from_the_cache_as_verify_does(capsys):
    """``gate`` said ``gate passed (cached result)`` where the spectrum was what came from the
    cache (bounds and verify: ``(spectrum from the cache)`` on their cost line): it prints that line."""
    from dataclasses import replace as changed

    torch.manual_seed(0)
    x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    rep = prunelimit.gate(torch.nn.Sequential(torch.nn.Linear(6, 3)), (x, y), min_ratio=0.0, batch_size=16)
    for cached in (False, True):
        shown = changed(rep, cache_hit=cached, spectrum=changed(rep.spectrum, cached=cached))
        console.render_gate(shown)
        out = capsys.readouterr().out
        assert f"spectrum: {console.cost(shown.spectrum)}\n" in out and "gate passed\n" in out
        assert ("(spectrum from the cache; --no-cache recomputes it)" in out) is cached and "cached result" not in out


@pytest.mark.parametrize(("points", "text"), [(-1.5625, "−1.56 pt"), (1.5625, "+1.56 pt"), (0.0, "+0.00 pt")])
def test_an_accuracy_change_carries_one_sign_whichever_way_it_went(points, text):
    """Pruning can raise accuracy: the change is shown with its own sign, never "−-1.56"."""
    assert console.accuracy_change(points) == text


LONG = "encoder.layers.11.attention.output.dense_projection_with_a_very_long_module_name.weight"  # 86 characters


def _layer_tables():
    """``info``'s, ``prune``'s and ``export``'s per-layer tables of one long-named tensor."""
    from types import SimpleNamespace as NS

    from prunelimit.models.params import ParamSelection

    info = NS(checkpoint="model.pt", model="mlp:64,32,10", source="prunelimit", params_total=123_456_789,
              params_prunable=123_456_000, params_hessian=123_456_789, selection=ParamSelection(), loss=None,
              warnings=(), layers=[NS(name=LONG, shape=(4096, 30_141), count=123_456_000, zeros=111_110_400)])
    pruned = NS(achieved=0.9, scope="global", ratio_source="given", before=None, after=None, finetuned=None,
                spectrum=None, formats=("pruned.pt",), collapsed=(), epsilon=None, prediction_from=None,
                layers=[NS(name=LONG, total=123_456_000, zeros=111_110_400)])
    exported = NS(output="model.sparse.safetensors", dense_bytes=493_824_000, file_bytes=98_765_432,
                  data_bytes=98_700_000, ratio=0.2, bench=None, warnings=(),
                  tensors=[NS(name=LONG, shape=(4096, 30_141), dtype="float32", density=0.1, format="csr",
                              negzero=None, mask=None, alias=None, dense_bytes=493_824_000, total_bytes=98_765_432)])
    return ((console.render_info, info, ("123,456,000", "111,110,400", "90.00 %")),
            (console.render_prune, pruned, ("123,456,000", "111,110,400", "90.00 %")),
            (console.render_export, exported, ("4096×30141", "10.00 %", "470.9 MiB", "94.2 MiB")))


@pytest.mark.parametrize("render, rep, numbers", _layer_tables(), ids=["info", "prune", "export"])
def test_a_table_piped_without_columns_keeps_each_name_and_number_on_its_row(render, rep, numbers, capsys,
                                                                              monkeypatch):
    """stdout a pipe or a file (CI logs, ``| tee``), COLUMNS unset: rich laid a table out at
    80 columns and folded or cut a long layer name and the numbers beside it ("4096×3…");
    a piped table is as wide as its cells, and a row reads whole on one line."""
    monkeypatch.delenv("COLUMNS", raising=False)
    render(rep)
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if LONG in line)
    assert all(number in row for number in numbers), out


def _cells(out: str) -> list[str]:
    """The one body row of a printed table, each cell's folded lines joined again."""
    rows = [line.split("│")[1:-1] for line in out.splitlines() if line.startswith("│")]
    return ["".join(piece.strip() for piece in column) for column in zip(*rows)]


@pytest.mark.parametrize("render, rep, numbers", _layer_tables(), ids=["info", "prune", "export"])
def test_a_narrow_width_folds_a_cell_and_never_cuts_it(render, rep, numbers, capsys, monkeypatch):
    """COLUMNS (or a terminal) narrower than the table: rich cut cells with "…"
    ("123,456,0…", "4096×301…"); each now folds onto more lines, and nothing is lost."""
    monkeypatch.setenv("COLUMNS", "60")
    render(rep)
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 60 and "…" not in out
    cells = _cells(out)
    spaced = [cell.replace(" ", "") for cell in cells]  # a cell folded at its space lost it
    assert cells[0] == LONG and all(number.replace(" ", "") in spaced for number in numbers), cells


def test_law_nplh_names_its_prunable_set_as_the_flag_is_typed(cli, own_ckpt) -> None:
    """``law nplh --exclude 2`` ended with ``points measured with …, exclude ('2',)``, a Python
    tuple: the set reads as typed, the flag once for each pattern (quoted where a shell needs it),
    and as the keyword with its value to a library caller."""
    from prunelimit.errors import library_call

    run = cli("law", "nplh", own_ckpt, "--exclude", "2", "--max-samples", "200")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.rstrip().splitlines()[-1] == "points measured with metric magnitude, mode static, seed 0, --exclude 2"
    assert console.measured_setting("include", ("0", "a b")) == "--include 0 --include 'a b'"
    assert console.measured_setting("seed", 0) == "seed 0"
    with library_call():
        assert console.measured_setting("exclude", ["2"]) == "exclude=('2',)"


@pytest.mark.parametrize("width", [40, 60])
def test_a_table_too_wide_to_fold_prints_a_row_as_column_and_value_lines(width, capsys, monkeypatch):
    """`bounds --per-layer` at COLUMNS=60 (or 40): its eight columns could not all fold to the
    width, rich laid the table out wider and the console cut its right side, the whole
    "alone ρ*" column and part of the title; such a table now prints each row as
    "column │ value" lines, every value whole, no line past the width."""
    from types import SimpleNamespace as NS

    layer = NS(name="0.weight", params=2048, trace=15.82, trace_plus_minus=None, lambda_max=2.871,
               share_of_width=0.8589, sparsity_at_rho=0.9399, collapsed=False, radius_share=0.8926, limit_alone=0.9312,
               limit_alone_plus_minus=None)
    cost = NS(method="exact", steps=None, probes=None, hvps=0, seconds=1.0, cached=False)
    monkeypatch.setenv("COLUMNS", str(width))
    console.render_layers(NS(ratio=0.9183, scope="global", layers=[layer], cost=cost, block_diagonal_f=None))
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= width
    shown = {tuple(cell.strip() for cell in line.split("│")[1:-1]) for line in out.splitlines()}
    assert {("layer", "0.weight"), ("params", "2,048"), ("trace (± 95 %)", "15.82"), ("λmax", "2.871"),
            ("width share", "85.89 %"), ("removed at ρ*", "93.99 %"), ("R² share", "89.26 %"),
            ("alone ρ*", "93.12 %")} <= shown, out
    assert "(global path)" in " ".join(out.split())
