"""An adaptive SLQ answer in the cache answers the default method under a looser tolerance
and any budgets: its stated ± already meets the call, so a CI job whose `bounds` asked for
0.005 does not pay for the spectrum again in a `gate` at the default 0.01. The products are
made to look slow (1 s a column), so the default chooses adaptive SLQ on the small model."""

from __future__ import annotations

import pytest

from tests.cache.test_cache_exact_reuse import BOUNDS, _doc

STORED = ("--tolerance", "0.02")  # ± 0.013 on this model: within 0.03 and 0.05, not 0.01


@pytest.fixture(autouse=True)
def slow_products(monkeypatch):
    from prunelimit.api import curvature

    monkeypatch.setattr(curvature, "_seconds_per_column", lambda op: 1.0)


@pytest.mark.parametrize("looser", [("--tolerance", "0.05"), ("--tolerance", "0.05", "--max-hvps", "10"),
                                    ("--tolerance", "0.03", "--time-budget", "1000")])
def test_a_looser_tolerance_reads_the_answer_a_tighter_one_stored(cli, own_ckpt, tmp_path, no_spectrum, looser):
    """Measured before: `bounds --tolerance 0.02` (± 0.013) then `bounds --tolerance 0.05`
    computed the spectrum again (101 HVPs). Now it reads the stored answer: 0 HVPs and the
    same ρ* and ± to the last bit (the same numbers, read back), whatever its own budgets."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *STORED))
    assert first["spectrum"]["solver"] == "slq-h" and 0 < first["prediction"]["uncertainty"]["plus_minus"] <= 0.02
    no_spectrum()
    hit = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *looser))
    assert hit["timing"]["cached"] is True and hit["timing"]["hvps"] == 0
    assert hit["prediction"] == first["prediction"]
    assert "stored by an earlier run" in hit["spectrum"]["choice"]["reason"]
    assert not any("is not within the tolerance" in w for w in hit["warnings"])


def test_a_tighter_tolerance_than_the_stored_answer_meets_computes(cli, own_ckpt, tmp_path):
    """± 0.032 (stored by --tolerance 0.05) misses 0.02: computed again, to 0.02."""
    cache = ("--cache-dir", tmp_path / "cache")
    loose = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--tolerance", "0.05"))
    assert loose["prediction"]["uncertainty"]["plus_minus"] > 0.02
    tight = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *STORED))
    assert tight["timing"]["cached"] is False and tight["timing"]["hvps"] > 0
    assert tight["prediction"]["uncertainty"]["plus_minus"] <= 0.02


@pytest.mark.parametrize("other", [("--seed", "1"), ("--epsilon", "0.05"), ("--negative", "flat"),
                                   ("--hessian-samples", "100"), ("--method", "paper"), ("--iterations", "12")])
def test_an_answer_stored_for_other_numbers_or_an_asked_plan_is_not_read(cli, own_ckpt, tmp_path, other):
    """Another seed, ε, negative-curvature rule or curvature subset stops the runs elsewhere
    (ρ*'s ± is theirs), and an asked fixed plan computes what it asks for: each computes.
    (`--method slq`, the same adaptive plan, reads it: tests/cache/test_cache_slq_default_share.py.)"""
    cache = ("--cache-dir", tmp_path / "cache")
    _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *STORED))
    again = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--tolerance", "0.05", *other))
    assert again["timing"]["cached"] is False and again["timing"]["hvps"] > 0


@pytest.mark.parametrize("command", [("gate", "--min-ratio", "0"), ("spectrum",)])
def test_a_command_at_the_default_tolerance_reads_bounds_at_a_tighter_one(cli, own_ckpt, tmp_path, no_spectrum,
                                                                          command):
    """The CI job: `bounds --tolerance 0.005`, then a default `gate` (0.01): a cache hit."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--tolerance", "0.005"))
    no_spectrum()
    name, *extra = command
    doc = _doc(cli(name, own_ckpt, *BOUNDS, *cache, *extra))
    assert doc["timing"]["cached"] is True and doc["timing"]["hvps"] == 0
    if name == "gate":
        assert doc["cache_hit"] is True and doc["bounds"]["prediction"] == first["prediction"]
    else:  # the spectrum's prediction states ρ* and its ± alone
        assert {k: doc["prediction"][k] for k in ("ratio", "uncertainty")} \
            == {k: first["prediction"][k] for k in ("ratio", "uncertainty")}


def test_a_call_that_read_a_shared_answer_repeats_it_after_a_tighter_one_replaced_it(cli, own_ckpt, tmp_path,
                                                                                      no_spectrum):
    """A cached gate repeats to the last digit: `--tolerance 0.05` read the answer of
    `--tolerance 0.02` (± 1.3 pt); `--tolerance 0.01` then computed a tighter one (± 0) in its
    place. The next `--tolerance 0.05` reads what it read before, kept as its own."""
    cache = ("--cache-dir", tmp_path / "cache")
    _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *STORED))
    read = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--tolerance", "0.05"))
    tighter = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--tolerance", "0.01"))
    assert tighter["timing"]["cached"] is False and tighter["prediction"] != read["prediction"]
    no_spectrum()
    again = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--tolerance", "0.05"))
    assert again["timing"]["cached"] is True and again["prediction"] == read["prediction"]


def test_a_shared_answer_replaces_the_calls_own_that_a_budget_cut_short(cli, own_ckpt, tmp_path, no_spectrum):
    """Measured before: `--tolerance 0.02 --max-hvps 20` (cut: ± 24 pt) read its own cut
    answer back, with its warning, after `--tolerance 0.02` had stored ± 1.3 pt; now it reads
    that one, as it reads a stored exact spectrum in its place."""
    cache, cut = ("--cache-dir", tmp_path / "cache"), (*STORED, "--max-hvps", "20")
    assert _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *cut))["spectrum"]["stopped_by"] == "max-hvps"
    met = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *STORED))
    no_spectrum()
    again = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *cut))
    assert again["timing"]["cached"] is True and again["prediction"] == met["prediction"]
    assert not any("is not within the tolerance" in w for w in again["warnings"])


def test_an_answer_a_budget_cut_short_answers_a_looser_tolerance(cli, own_ckpt, tmp_path, no_spectrum):
    """Measured before: `--tolerance 0.02 --max-hvps 20` (cut short: ± 24 pt) was kept for its
    own call alone, and `--tolerance 0.5` computed again, a looser answer. Its ± meets 0.5: read,
    at no product, the same numbers. (A tighter tolerance computes: the tests above.)"""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *STORED, "--max-hvps", "20"))
    assert first["spectrum"]["stopped_by"] == "max-hvps"
    assert 0.02 < first["prediction"]["uncertainty"]["plus_minus"] <= 0.5
    no_spectrum()
    hit = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--tolerance", "0.5"))
    assert hit["timing"]["cached"] is True and hit["timing"]["hvps"] == 0
    assert hit["prediction"] == first["prediction"]
    assert not any("is not within the tolerance" in w for w in hit["warnings"])


def test_a_looser_answer_finished_beside_a_tighter_one_leaves_the_tighter_shared(cli, own_ckpt, tmp_path,
                                                                                 monkeypatch, no_spectrum):
    """Two runs at once (two CI jobs, `bounds ... &`): `--tolerance 0.02` finished while
    `--tolerance 0.05` computed, and the looser answer (± 3.2 pt), stored last, replaced the
    tighter one (± 1.3 pt) where any tolerance looks: a later `--tolerance 0.03` computed the
    spectrum again. Made deterministic: the tighter run is made inside the looser one's
    computation, after its products and before it stores."""
    from dataclasses import replace

    from prunelimit.api import curvature, stored
    from prunelimit.cache import open_store

    cache = tmp_path / "cache"
    compute, beside = curvature.spectrum, []

    def looser_then_tighter_beside(inputs, options, progress=None, ranked=None):
        rep = compute(inputs, options, progress, ranked)
        if not beside:
            beside.append(None)  # the tighter run's own computation is not wrapped again
            beside[0] = stored.stored_spectrum(inputs, replace(options, tolerance=0.02), store=open_store(cache, True))
        return rep

    monkeypatch.setattr(curvature, "spectrum", looser_then_tighter_beside)
    loose = _doc(cli("bounds", own_ckpt, *BOUNDS, "--cache-dir", cache, "--tolerance", "0.05"))
    assert loose["prediction"]["uncertainty"]["plus_minus"] > 0.03 >= beside[0].uncertainty.plus_minus
    no_spectrum()
    between = _doc(cli("bounds", own_ckpt, *BOUNDS, "--cache-dir", cache, "--tolerance", "0.03"))
    assert between["timing"]["cached"] is True
    assert between["prediction"]["ratio"] == beside[0].limit_ratio
