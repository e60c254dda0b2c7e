"""`--per-layer` blocks are keyed only by what reaches their numbers. Formed (and exact) blocks are
the full data's Hessian's own columns in float64: no seed, curvature subset, basis or SLQ plan
reaches them. Lanczos blocks are 32 steps × 2 probes whatever plan the spectrum ran: its method,
`--iterations` and `--runs` do not reach them, nor `--basis-dtype` where it stores their bases as
`auto` does; the seed (their probes, and the subset it draws), the subset and a basis stored
otherwise do; where every block is formed from its unit columns on all the data, no seed does.
Before, `bounds examples/digits-mlp.pt --per-layer`, then the same with `--seed 1` (or
`--hessian-samples 500`, `--basis-dtype float32`, `--method exact`), read the exact spectrum
(0 HVPs) and formed the dense Hessian's 2,410 columns again (`layer_curvature.hvps` 2,410)."""

from __future__ import annotations

import pytest

from tests.cache.test_cache_exact_reuse import _doc
from tests.cache.test_cache_layer_budgets import _shares
from tests.cache.test_cache_layer_engines import LAYERS

SLQ = ("--method", "slq", "--tolerance", "0.2")


def _read_as_computed(cli, ckpt, cache, no_blocks, first: tuple, other: tuple) -> dict:
    """The run with ``other`` after one with ``first`` stored its blocks: read (0 HVPs), and
    the same layers, to the last digit, as that run computes without the cache."""
    _doc(cli("bounds", ckpt, *LAYERS, *cache, *first))
    fresh = _doc(cli("bounds", ckpt, *LAYERS, "--no-cache", *other))
    no_blocks()
    hit = _doc(cli("bounds", ckpt, *LAYERS, *cache, *other))
    assert hit["layer_curvature"]["cached"] is True and hit["layer_curvature"]["hvps"] == 0
    assert {k: v for k, v in _shares(hit)[1].items() if k != "hvps"} == \
        {k: v for k, v in _shares(fresh)[1].items() if k != "hvps"}
    assert _shares(hit)[0] == _shares(fresh)[0]
    return hit


@pytest.mark.parametrize("other", [("--seed", "1"), ("--hessian-samples", "40"), ("--basis-dtype", "float32"),
                                   ("--basis-memory", "512"), ("--method", "exact")])
def test_the_exact_spectrums_blocks_are_read_under_what_only_slq_reads(cli, own_ckpt, tmp_path, no_blocks, other):
    """The default took the exact spectrum, read under each of these (its own key's rule)."""
    hit = _read_as_computed(cli, own_ckpt, ("--cache-dir", tmp_path / "cache"), no_blocks, (), other)
    assert hit["spectrum"]["solver"] == "exact" and hit["timing"]["hvps"] == 0


@pytest.mark.parametrize("other", [(*SLQ, "--basis-dtype", "float32"), ("--method", "slq", "--runs", "2", "--iterations", "12"),
                                   ("--iterations", "12")])
def test_lanczos_blocks_are_read_under_another_plan_or_the_same_bases(cli, own_ckpt, tmp_path, no_blocks, other):
    """float32 products store a basis in float32 under `auto` too; the blocks' 32 × 2 plan is the
    same whatever the spectrum's (which is computed again where its own key differs)."""
    hit = _read_as_computed(cli, own_ckpt, ("--cache-dir", tmp_path / "cache"), no_blocks, SLQ, other)
    assert hit["layer_curvature"]["method"] == "lanczos"


@pytest.mark.parametrize("other", [("--seed", "1"), ("--hessian-samples", "40"), ("--basis-dtype", "float64")])
def test_lanczos_blocks_under_what_reaches_them_are_computed(cli, own_ckpt, tmp_path, other):
    """The seed draws their probes, the subset is their data, a float64 basis rounds otherwise."""
    cache = ("--cache-dir", tmp_path / "cache")
    _doc(cli("bounds", own_ckpt, *LAYERS, *cache, *SLQ))
    again = _doc(cli("bounds", own_ckpt, *LAYERS, *cache, *SLQ, *other))
    assert again["layer_curvature"]["cached"] is False and again["layer_curvature"]["hvps"] > 0


def test_a_narrower_basis_than_autos_is_not_read_where_the_spectrums_key_merges_them(cli, own_ckpt, tmp_path,
                                                                                   monkeypatch):
    """The spectrum's key takes `--basis-dtype float32` as `auto` where `auto` would narrow its
    D × D basis too (D over 16,384); a block's basis is 32 × its size, which `auto` keeps in
    float64 on float64 products. Here the narrowing threshold lies between the two (this model's
    D = 310), and the spectrum is on float64 products, as in the budgets' products-type test."""
    import importlib
    from dataclasses import replace

    from prunelimit.api import limit

    lanczos = importlib.import_module("prunelimit.curvature.lanczos")  # the package's ``lanczos`` is a function
    monkeypatch.setattr(lanczos, "AUTO_FLOAT64_BASIS_BYTES", 100_000)  # 32 × 256 × 8 below, 310² × 8 above
    stored = limit.stored_spectrum

    def on_float64(*args, **kwargs):
        rep = stored(*args, **kwargs)
        return replace(rep, quadrature=replace(rep.quadrature, float64_products=True))

    monkeypatch.setattr(limit, "stored_spectrum", on_float64)
    cache = ("--cache-dir", tmp_path / "cache")
    _doc(cli("bounds", own_ckpt, *LAYERS, *cache, *SLQ))
    again = _doc(cli("bounds", own_ckpt, *LAYERS, *cache, *SLQ, "--basis-dtype", "float32"))
    assert again["layer_curvature"]["cached"] is False and again["layer_curvature"]["hvps"] > 0


@pytest.fixture
def narrow_ckpt(tmp_path):
    """A 64-1-10 MLP: every block (64, 10 weights, 11 biases) at most 2 × 32 weights, each
    formed from its unit columns under `--method slq` too, no probe drawn."""
    import torch

    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    torch.manual_seed(0)
    path = tmp_path / "narrow.pt"
    save_checkpoint(path, "mlp:64,1,10", build_model("mlp:64,1,10").state_dict(), meta={"data": "digits:train"})
    return path


def test_blocks_formed_from_unit_columns_on_all_the_data_are_read_under_another_seed(cli, narrow_ckpt, tmp_path,
                                                                                   no_blocks):
    hit = _read_as_computed(cli, narrow_ckpt, ("--cache-dir", tmp_path / "cache"), no_blocks, SLQ, (*SLQ, "--seed", "1"))
    assert hit["layer_curvature"]["method"] == "lanczos"


def test_blocks_formed_from_unit_columns_on_a_subset_are_computed_under_another_seed(cli, narrow_ckpt, tmp_path):
    """The seed draws the subset they are formed on."""
    cache = ("--cache-dir", tmp_path / "cache")
    subset = (*SLQ, "--hessian-samples", "40")
    _doc(cli("bounds", narrow_ckpt, *LAYERS, *cache, *subset))
    again = _doc(cli("bounds", narrow_ckpt, *LAYERS, *cache, *subset, "--seed", "1"))
    assert again["layer_curvature"]["cached"] is False and again["layer_curvature"]["hvps"] > 0
