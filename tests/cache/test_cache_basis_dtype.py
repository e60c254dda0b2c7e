"""`--basis-dtype` names how the Lanczos bases are stored; `auto` stores them in the products'
dtype (float32 for a float32 model's products, float64 for float64 ones). Where the name given
stores every basis the plan may build as `auto` does, the numbers are the same and so is the
cache entry: a float32 model's `float32` on a fixed plan, whose runs never go on to float64
products, and a float64 model's `float64`. Adaptive SLQ on a float32 model may go on to
float64 products, whose basis `auto` keeps in float64: there `float32` keys its own."""

from __future__ import annotations

import pytest

from tests.cache.test_cache_exact_reuse import BOUNDS, _doc
from tests.cache.test_cache_memory_budget import _same_answer

PLAN = ("--runs", "2", "--iterations", "20")


def test_float32_on_a_float32_model_s_fixed_plan_reads_auto_s_answer(cli, own_ckpt, tmp_path, no_spectrum):
    """Measured before: `spectrum examples/digits-mlp.pt --runs 2 --iterations 30` then the same
    with `--basis-dtype float32` formed the same 68 products again, to the same ρ* and ± (0 now)."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *PLAN))
    assert first["memory"]["basis_kind"] == "Lanczos basis, float32"
    no_spectrum()
    _same_answer(_doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *PLAN, "--basis-dtype", "float32")), first)


def test_auto_reads_what_float32_stored(cli, own_ckpt, tmp_path, no_spectrum):
    """The converse: `bounds --basis-dtype float32 --runs 2 --iterations 20`, then a `gate` with the same plan."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *PLAN, "--basis-dtype", "float32"))
    no_spectrum()
    hit = _doc(cli("gate", own_ckpt, *BOUNDS, *cache, *PLAN, "--min-ratio", "0"))
    assert hit["cache_hit"] is True
    _same_answer(hit, first, gate=True)


@pytest.mark.parametrize(("plan", "basis"), [(PLAN, "float64"), (PLAN, "bfloat16"), (("--method", "slq"), "float32")])
def test_a_basis_auto_would_store_otherwise_computes(cli, own_ckpt, tmp_path, plan, basis):
    """A float32 model's float64 or bfloat16 bases round otherwise (ρ* moved in the 8th digit on
    the bundled example's fixed plan); adaptive SLQ's float64 re-run would keep a float32 basis
    where `auto` keeps a float64 one."""
    cache = ("--cache-dir", tmp_path / "cache")
    _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *plan, "--tolerance", "0.2"))
    again = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *plan, "--tolerance", "0.2", "--basis-dtype", basis))
    assert again["timing"]["cached"] is False and again["timing"]["hvps"] > 0


@pytest.mark.parametrize("method", ["slq", "paper"])
def test_float64_on_a_float64_model_is_keyed_as_auto(own_ckpt, method):
    """A float64 model's products are float64, and so is every basis `auto` stores (no float64
    re-run follows them): `--basis-dtype float64` is its entry, `float32` is not."""
    from prunelimit.api import CurvatureOptions
    from prunelimit.api.stored import _keyed_options
    from prunelimit.inputs import load_inputs

    inputs = load_inputs(own_ckpt, data="digits:train", max_samples=50)
    inputs.model.double()

    def keyed(basis: str) -> str:
        return _keyed_options(inputs, CurvatureOptions(method=method, basis_dtype=basis)).basis_dtype

    assert (keyed("float64"), keyed("float32")) == ("auto", "float32")
