"""`--per-layer` blocks are keyed as the spectrum, and on a CPU `--memory-budget` and `--hvp`
only choose the HVP engine (kept or rebuilt graphs) there as well: blocks a run at the
defaults computed with the engines another budget chooses too are the same products, which
that run reads, and the converse. Before, the spectrum was read under such a budget and the
blocks computed again (`bounds examples/digits-mlp.pt --per-layer`, then the same with
`--memory-budget 2048`: `layer_curvature.hvps` 2,410, the dense Hessian's columns formed again)."""

from __future__ import annotations

import pytest

from tests.cache.test_cache_exact_reuse import BOUNDS, _doc
from tests.cache.test_cache_memory_budget import NARROW, WIDER

LAYERS = (*BOUNDS, "--per-layer")


def _same_blocks(hit: dict, first: dict) -> None:
    assert hit["layer_curvature"]["cached"] is True and hit["layer_curvature"]["hvps"] == 0
    assert hit["timing"]["hvps"] == 0
    assert hit["layers"] == first["layers"]


@pytest.mark.parametrize(("plan", "first_blocks"), [((), "exact"), (("--method", "slq", "--tolerance", "0.2"), "lanczos"),
                                                    (("--iterations", "12"), "lanczos")])
def test_blocks_under_a_budget_that_keeps_the_graphs_too_are_read(cli, own_ckpt, tmp_path, no_blocks, plan,
                                                                   first_blocks):
    """The default's exact spectrum (its blocks taken from the dense Hessian), adaptive SLQ's and
    a fixed plan's Lanczos blocks: `--memory-budget 2048` keeps the graphs as the default 1024 MB
    does, and reads them; the default reads them in turn where that budget stored them."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *LAYERS, *cache, *plan))
    assert first["layer_curvature"]["method"] == first_blocks and first["memory"]["hvp_engine"] == "cached"
    no_blocks()
    _same_blocks(_doc(cli("bounds", own_ckpt, *LAYERS, *cache, *plan, *WIDER)), first)


def test_the_default_reads_blocks_a_budget_that_kept_the_graphs_stored(cli, own_ckpt, tmp_path, no_blocks):
    """The converse: `bounds --per-layer --memory-budget 2048`, then a default `bounds --per-layer`."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *LAYERS, *cache, "--iterations", "12", *WIDER))
    no_blocks()
    _same_blocks(_doc(cli("bounds", own_ckpt, *LAYERS, *cache, "--iterations", "12")), first)


@pytest.mark.parametrize("other", [NARROW, ("--hvp", "revrev")])
def test_blocks_under_an_engine_that_rebuilds_the_graphs_are_computed(cli, own_ckpt, tmp_path, other):
    """The default kept the graphs: rebuilt ones sum the products in another order."""
    cache = ("--cache-dir", tmp_path / "cache")
    _doc(cli("bounds", own_ckpt, *LAYERS, *cache, "--iterations", "12"))
    again = _doc(cli("bounds", own_ckpt, *LAYERS, *cache, "--iterations", "12", *other))
    assert again["layer_curvature"]["cached"] is False and again["layer_curvature"]["hvps"] > 0
