"""On a CPU `--memory-budget` and `--hvp` only choose the HVP engine (kept or rebuilt graphs; a
CPU's chunks do not depend on the budget), so a budget or engine that chooses the engines a
run at the defaults chose computes the same products: a CI job whose `gate --memory-budget
2048` follows a default `bounds` pays for the spectrum once. The small model's graphs hold
0.08 MB: kept under the default 1024 MB and 2048, rebuilt under 0.01."""

from __future__ import annotations

import pytest

from tests.cache.test_cache_exact_reuse import BOUNDS, _doc

WIDER = ("--memory-budget", "2048")  # keeps the graphs, as the default does
NARROW = ("--memory-budget", "0.01")  # rebuilds them: under the small model's 0.08 MB


@pytest.fixture
def slow_products(monkeypatch):
    """The products look slow (1 s a column): the default chooses adaptive SLQ on the small model."""
    from prunelimit.api import curvature

    monkeypatch.setattr(curvature, "_seconds_per_column", lambda op: 1.0)


@pytest.fixture
def rebuilt_by_default(monkeypatch):
    """A CPU's default budget below the small model's graphs, as a model whose graphs outgrow
    1 GiB has it: the default rebuilds them."""
    from prunelimit.api import options

    monkeypatch.setattr(options, "CPU_MEMORY_BUDGET_MB", 0.01)


def _same_answer(hit: dict, first: dict, gate: bool = False) -> None:
    """``hit`` read ``first``'s answer: no product, the same ρ*, ± and spectrum to the last bit
    (the solver's reason is worded for the reader)."""
    assert hit["timing"]["cached"] is True and hit["timing"]["hvps"] == 0
    numbers = hit["bounds"] if gate else hit
    assert numbers["prediction"] == first["prediction"]
    assert {**numbers["spectrum"], "choice": None} == {**first["spectrum"], "choice": None}


@pytest.mark.parametrize(("plan", "other"), [((), WIDER), (("--method", "slq"), ("--memory-budget", "1024")),
                                           (("--iterations", "12"), ("--hvp", "cached", *WIDER))])
def test_a_budget_that_keeps_the_graphs_too_reads_the_default_s_answer(cli, own_ckpt, tmp_path, no_spectrum,
                                                                       plan, other):
    """Measured before: `bounds` then `bounds --memory-budget 2048` formed the same 318 columns
    again (0 HVPs now, the same numbers to the last bit, read back), for the default's exact
    spectrum, adaptive SLQ and a fixed plan alike; `1024`, the default on a CPU, too."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *plan))
    assert first["memory"]["hvp_engine"] == "cached"
    no_spectrum()
    _same_answer(_doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *plan, *other)), first)


def test_revrev_reads_its_answer_under_any_budget(cli, own_ckpt, tmp_path, no_spectrum):
    """`--hvp revrev` rebuilds the graphs whatever the budget, and a CPU's chunks do not depend
    on it: `--hvp revrev --memory-budget 2048` after `--hvp revrev` computed the same products again."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, "--hvp", "revrev"))
    no_spectrum()
    _same_answer(_doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, "--hvp", "revrev", *WIDER)), first)


def test_the_default_reads_what_a_budget_that_kept_the_graphs_too_stored(cli, own_ckpt, tmp_path, no_spectrum):
    """The converse: `bounds --memory-budget 2048`, then a default `gate`."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *WIDER))
    no_spectrum()
    _same_answer(_doc(cli("gate", own_ckpt, *BOUNDS, *cache, "--min-ratio", "0")), first, gate=True)


def test_a_budget_or_engine_that_rebuilds_the_graphs_computes(cli, own_ckpt, tmp_path):
    """The default kept the graphs: rebuilding them sums the products in another order (float32
    rounding), so `--memory-budget 0.01` and `--hvp revrev` each compute, with the engine chosen."""
    cache = ("--cache-dir", tmp_path / "cache")
    _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache))
    for other in (NARROW, ("--hvp", "revrev")):
        again = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *other))
        assert again["timing"]["cached"] is False and again["timing"]["hvps"] > 0
        assert again["memory"]["hvp_engine"] == "revrev"


@pytest.mark.parametrize("other", [("--hvp", "revrev"), ("--memory-budget", "0.02")])
def test_where_the_default_rebuilds_the_graphs_revrev_and_budgets_that_do_read_it(cli, own_ckpt, tmp_path,
                                                                                  no_spectrum, rebuilt_by_default,
                                                                                  other):
    """Where the default budget rebuilds the graphs, `--hvp revrev` (which always does) and any
    budget under them read its answer."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache))
    assert first["memory"]["hvp_engine"] == "revrev"
    no_spectrum()
    _same_answer(_doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *other)), first)


def test_an_answer_computed_with_rebuilt_graphs_is_not_read_where_they_would_be_kept(cli, own_ckpt, tmp_path,
                                                                                     rebuilt_by_default):
    """The default rebuilt the graphs: `--memory-budget 2048` keeps them, and computes."""
    cache = ("--cache-dir", tmp_path / "cache")
    _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache))
    again = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *WIDER))
    assert again["timing"]["cached"] is False and again["memory"]["hvp_engine"] == "cached"


def test_an_adaptive_answer_that_met_its_tolerance_answers_under_another_engine(cli, own_ckpt, tmp_path,
                                                                               slow_products, no_spectrum):
    """An adaptive answer whose ± meets a call's tolerance answers it under any budgets
    (its ± states the products' rounding, measured): `bounds --tolerance 0.02 --memory-budget
    0.01` (rebuilt graphs) then `gate --tolerance 0.05` computed again before."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--tolerance", "0.02", *NARROW))
    assert first["spectrum"]["solver"] == "slq-h" and first["memory"]["hvp_engine"] == "revrev"
    no_spectrum()
    hit = _doc(cli("gate", own_ckpt, *BOUNDS, *cache, "--min-ratio", "0", "--tolerance", "0.05"))
    assert hit["cache_hit"] is True
    _same_answer(hit, first, gate=True)
