"""`--method slq` runs the plan the default runs where it chooses adaptive SLQ, step for step, so
a CI job that mixes them (a default `bounds`, then `gate --method slq`; or `bounds --method slq`,
then a default `gate` where the default takes SLQ before timing a product) pays for the
spectrum once. Where the products are made to look slow (1 s a column), the default chooses
adaptive SLQ on the small model by timing them."""

from __future__ import annotations

import pytest

from tests.cache.test_cache_exact_reuse import BOUNDS, _doc

TOLERANCE = ("--tolerance", "0.02")  # ± 0.013 on this model: adaptive SLQ meets it
LOOSER = ("--tolerance", "0.05")
GATE = ("--min-ratio", "0")


@pytest.fixture
def slow_products(monkeypatch):
    from prunelimit.api import curvature

    monkeypatch.setattr(curvature, "_seconds_per_column", lambda op: 1.0)


def _same_spectrum(a: dict, b: dict) -> None:
    """The numbers of two documents alike to the last bit (read back, not recomputed): ρ* and
    its ±, the bounds, the spectrum but for the solver's reason, which names the method asked."""
    assert a["prediction"] == b["prediction"] and a["bounds"] == b["bounds"]
    strip = (lambda doc: {k: v for k, v in doc["spectrum"].items() if k != "choice"})
    assert strip(a) == strip(b)


@pytest.mark.parametrize("command", [("gate", *GATE), ("bounds",)])
def test_the_default_reads_the_answer_method_slq_stored_where_it_takes_slq_untimed(cli, own_ckpt, tmp_path,
                                                                                  no_spectrum, command):
    """`--max-hvps 300`, below D = 310, leaves the default no exact spectrum before it times a
    product: it runs `--method slq`'s plan. Measured before: `bounds --method slq` then a
    default `gate` (both `--max-hvps 300`) computed the same 262 products again. Now the gate
    reads them: 0 HVPs, ρ* and ± as stored, its method and its solver line its own."""
    cache, budget = ("--cache-dir", tmp_path / "cache"), ("--max-hvps", "300")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *TOLERANCE, *budget, "--method", "slq"))
    assert first["spectrum"]["solver"] == "slq-h" and first["timing"]["hvps"] > 0
    fresh = _doc(cli("bounds", own_ckpt, *BOUNDS, "--no-cache", *TOLERANCE, *budget))  # the default's own
    no_spectrum()
    name, *extra = command
    doc = _doc(cli(name, own_ckpt, *BOUNDS, *cache, *TOLERANCE, *budget, *extra))
    assert doc["timing"]["cached"] is True and doc["timing"]["hvps"] == 0
    read = doc["bounds"] if name == "gate" else doc
    _same_spectrum(read, fresh)
    assert read["spectrum"]["choice"] == fresh["spectrum"]["choice"] and read["method"] == "default"


@pytest.mark.parametrize("own", [TOLERANCE, LOOSER], ids=["same-tolerance", "looser-tolerance"])
def test_a_default_that_would_time_the_products_does_not_read_method_slq(cli, own_ckpt, tmp_path, slow_products,
                                                                         own):
    """Where only timing the products tells whether the default takes SLQ (slow products here;
    fast ones choose the exact spectrum), it computes: an SLQ answer is not the default's then,
    under its own tolerance or a looser one that `--method slq`'s answer meets."""
    cache = ("--cache-dir", tmp_path / "cache")
    _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *TOLERANCE, "--method", "slq"))
    again = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *own))
    assert again["timing"]["cached"] is False and again["timing"]["hvps"] > 0


@pytest.mark.parametrize("tolerance", [TOLERANCE, LOOSER], ids=["same", "looser"])
def test_method_slq_reads_the_adaptive_answer_the_default_chose(cli, own_ckpt, tmp_path, slow_products, no_spectrum,
                                                              tolerance):
    """Measured before: a default `bounds` that chose adaptive SLQ, then `gate --method slq`
    (at its tolerance or a looser one, `--tolerance 0.05`), computed the same 388 products
    again: the default's answer, kept where the default under any tolerance looks, was read
    only by the default. Now `--method slq`, whose plan it is step for step, reads it, and what
    it reads is what `--method slq` computes on its own (`--no-cache`): the same numbers to
    the last bit."""
    cache = ("--cache-dir", tmp_path / "cache")
    fresh = _doc(cli("bounds", own_ckpt, *BOUNDS, "--no-cache", *TOLERANCE, "--method", "slq"))
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *TOLERANCE))
    assert first["spectrum"]["solver"] == "slq-h" and first["timing"]["hvps"] > 0
    no_spectrum()
    gate = _doc(cli("gate", own_ckpt, *BOUNDS, *cache, *tolerance, *GATE, "--method", "slq"))
    assert gate["cache_hit"] is True and gate["timing"]["hvps"] == 0
    _same_spectrum(gate["bounds"], fresh)
    if tolerance == TOLERANCE:  # under a looser one the reason says the stored ± meets it too
        assert gate["bounds"]["spectrum"]["choice"] == fresh["spectrum"]["choice"]  # "(--method slq)"
    assert gate["bounds"]["method"] == "slq"


def test_method_slq_does_not_take_the_exact_spectrum_the_default_chose(cli, own_ckpt, tmp_path):
    """The default's exact spectrum is not what `--method slq` computes: it computes its own."""
    cache = ("--cache-dir", tmp_path / "cache")
    assert _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *TOLERANCE))["spectrum"]["solver"] == "exact"
    slq = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *TOLERANCE, "--method", "slq"))
    assert slq["timing"]["cached"] is False and slq["spectrum"]["solver"] == "slq-h"


@pytest.mark.parametrize("other", [("--time-budget", "600"), ("--max-hvps", "5000"), LOOSER, ("--hvp", "revrev")])
def test_method_slq_under_other_budgets_reads_its_answer_that_meets_its_tolerance(cli, own_ckpt, tmp_path, no_spectrum,
                                                                                 other):
    """Measured before: `bounds --method slq`, then `gate --method slq` under another
    `--time-budget`, `--max-hvps`, `--hvp` or a looser `--tolerance` (a key of its own) computed the same
    products again (`bounds examples/digits-mlp.pt --method slq --time-budget 600`: 484 HVPs);
    the default read such an answer already. Now it reads it: 0 HVPs, the same numbers."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *TOLERANCE, "--method", "slq"))
    assert first["spectrum"]["solver"] == "slq-h" and first["timing"]["hvps"] > 0
    no_spectrum()
    gate = _doc(cli("gate", own_ckpt, *BOUNDS, *cache, *TOLERANCE, *GATE, "--method", "slq", *other))
    assert gate["cache_hit"] is True and gate["timing"]["hvps"] == 0
    _same_spectrum(gate["bounds"], first)
    assert gate["bounds"]["method"] == "slq"
