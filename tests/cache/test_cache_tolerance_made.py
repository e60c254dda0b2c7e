"""A cached adaptive answer states the tolerance it was made to (``spectrum.choice.tolerance``
and the ``solver:`` line), not the reading call's: `bounds --tolerance 0.02` then a gate at
0.05 read an answer whose runs went on past a stage whose ± met 0.05, under a reason that said
"adaptive SLQ to ±0.05", and its second read (the copy kept as the call's own) dropped even
"stored by an earlier run": `reached the tolerance` read as 0.05's. The products are made to
look slow (1 s a column), so the default chooses adaptive SLQ on the small model."""

from __future__ import annotations

import pytest

from tests.cache.test_cache_exact_reuse import BOUNDS, _doc


@pytest.fixture(autouse=True)
def slow_products(monkeypatch):
    from prunelimit.api import curvature

    monkeypatch.setattr(curvature, "_seconds_per_column", lambda op: 1.0)


def test_a_shared_answer_states_the_tolerance_it_was_made_to_on_every_read(cli, own_ckpt, tmp_path, no_spectrum):
    cache = ("--cache-dir", tmp_path / "cache")
    made = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--tolerance", "0.02"))["spectrum"]
    assert made["choice"]["tolerance"] == 0.02 and made["stopped_by"] == "tolerance"
    # the case: a stage before the last met 0.05, where a run to 0.05 would have stopped
    assert any(stage["plus_minus"] <= 0.05 for stage in made["trail"][:-1])
    no_spectrum()
    reads = [_doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--tolerance", "0.05"))["spectrum"] for _ in range(2)]
    for read in reads:
        assert read["choice"]["tolerance"] == 0.02 and read["trail"] == made["trail"]
        assert read["choice"]["reason"].startswith("adaptive SLQ to ±0.02 in ρ*, stored by an earlier run, whose ± ")
        assert read["choice"]["reason"].endswith(" pt meets this ±0.05 too (no product)")
    assert reads[1]["choice"] == reads[0]["choice"]


def test_an_answer_made_for_the_call_and_one_that_aimed_at_none_state_theirs(cli, own_ckpt, tmp_path):
    """Computed, or read back by the same call: its own tolerance; a fixed plan's or the exact
    spectrum's ``null`` (nothing aimed at one)."""
    cache = ("--cache-dir", tmp_path / "cache")
    for _ in range(2):
        doc = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--tolerance", "0.05"))["spectrum"]
        assert doc["choice"]["tolerance"] == 0.05 and doc["choice"]["reason"].startswith("adaptive SLQ to ±0.05 in ρ*: ")
    for plan in (("--iterations", "12"), ("--method", "exact")):
        assert _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *plan))["spectrum"]["choice"]["tolerance"] is None
