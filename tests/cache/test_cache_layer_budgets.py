"""`--per-layer` blocks are a fixed plan after the spectrum, outside its `--max-hvps` and
`--time-budget`, and their shares are solved for ε and the negative-curvature rule once read:
a run that reads the spectrum under another `--tolerance`, budget or ε (the exact spectrum's
± 0 meets them all; a tighter adaptive answer meets a looser tolerance) reads the blocks too.
Before, they were keyed by those options: `bounds examples/digits-mlp.pt --per-layer`, then the
same with `--tolerance 0.05`, read the spectrum (0 HVPs) and formed the dense Hessian's 2,410
columns again (`layer_curvature.hvps` 2,410, 16 s)."""

from __future__ import annotations

import pytest

from tests.cache.test_cache_exact_reuse import _doc
from tests.cache.test_cache_layer_engines import LAYERS, _same_blocks

OTHERS = [("--tolerance", "0.05"), ("--max-hvps", "5000"), ("--time-budget", "1000"), ("--epsilon", "0.05"),
          ("--negative", "flat")]


def _shares(doc: dict) -> tuple:
    """What the blocks give, without this run's timing."""
    return doc["layers"], {k: v for k, v in doc["layer_curvature"].items() if k not in ("seconds", "cached")}


@pytest.mark.parametrize("other", OTHERS)
def test_the_exact_spectrums_blocks_are_read_under_another_tolerance_budget_or_epsilon(cli, own_ckpt, tmp_path,
                                                                                     no_blocks, other):
    """Read, and the same as this run computes without the cache (solved for its own ε)."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *LAYERS, *cache))
    assert first["spectrum"]["solver"] == "exact" and first["layer_curvature"]["method"] == "exact"
    fresh = _doc(cli("bounds", own_ckpt, *LAYERS, "--no-cache", *other))
    no_blocks()
    hit = _doc(cli("bounds", own_ckpt, *LAYERS, *cache, *other))
    assert hit["layer_curvature"]["cached"] is True and hit["layer_curvature"]["hvps"] == 0
    assert hit["timing"]["hvps"] == 0
    assert {k: v for k, v in _shares(hit)[1].items() if k != "hvps"} == \
        {k: v for k, v in _shares(fresh)[1].items() if k != "hvps"}
    assert _shares(hit)[0] == _shares(fresh)[0]


def test_adaptive_slqs_lanczos_blocks_are_read_by_a_looser_tolerance(cli, own_ckpt, tmp_path, no_blocks):
    """`--tolerance 0.2`'s answer meets 0.3: its spectrum and its blocks are read."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *LAYERS, *cache, "--method", "slq", "--tolerance", "0.2"))
    assert first["layer_curvature"]["method"] == "lanczos"
    no_blocks()
    _same_blocks(_doc(cli("bounds", own_ckpt, *LAYERS, *cache, "--method", "slq", "--tolerance", "0.3")), first)


def test_blocks_of_a_spectrum_on_other_products_are_not_read(cli, own_ckpt, tmp_path, monkeypatch):
    """Lanczos blocks are on the spectrum's products' type, which a tolerance may move (float32
    products' rounding sends adaptive runs to float64 ones): blocks stored beside a float32
    spectrum are not read beside a float64 one."""
    from dataclasses import replace

    from prunelimit.api import limit

    cache = ("--cache-dir", tmp_path / "cache")
    _doc(cli("bounds", own_ckpt, *LAYERS, *cache, "--method", "slq", "--tolerance", "0.2"))
    stored = limit.stored_spectrum  # bounds' spectrum, read from the cache

    def on_float64(*args, **kwargs):
        rep = stored(*args, **kwargs)
        return replace(rep, quadrature=replace(rep.quadrature, float64_products=True))

    monkeypatch.setattr(limit, "stored_spectrum", on_float64)
    again = _doc(cli("bounds", own_ckpt, *LAYERS, *cache, "--method", "slq", "--tolerance", "0.3"))
    assert again["layer_curvature"]["cached"] is False and again["layer_curvature"]["hvps"] > 0
