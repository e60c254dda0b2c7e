"""A fixed plan (`--runs`/`--iterations`, `--method paper`) runs to its end under any
`--time-budget` or `--max-hvps`: the library refuses them beside it, a `--config` file's are
kept. The clock only ever gave it a warning, so another time budget reads its stored answer;
a ceiling decides whether the products' error is measured again over all the data and how many
trace top-ups follow, so one that decides as no ceiling does reads and keeps the answer stored
at none (each a recomputation with the same numbers before: a CI job whose `bounds --config
ci.yaml` and `gate` both ran `--runs 2 --iterations 20` paid for the spectrum twice)."""

from __future__ import annotations

import pytest

from tests.cache.test_cache_exact_reuse import BOUNDS, _doc
from tests.cache.test_cache_memory_budget import _same_answer

PLAN = ("--runs", "2", "--iterations", "20")  # 40 products, 6 top-ups to the trace's 8 probes


def _config(tmp_path, **keys) -> tuple[str, str]:
    path = tmp_path / "ci.yaml"
    path.write_text("".join(f"{name}: {value}\n" for name, value in keys.items()))
    return "--config", str(path)


@pytest.mark.parametrize(("plan", "keys"), [
    (PLAN, {"time_budget": 600}), (("--method", "paper", "--iterations", "20"), {"max_hvps": 5000}),
    ((*PLAN, "--hessian-samples", "40"), {"max_hvps": 5000, "time_budget": 600})])  # a data check, timed under a time budget
def test_a_budget_the_fixed_plan_never_reached_reads_the_answer_stored_without(cli, own_ckpt, tmp_path,
                                                                               no_spectrum, plan, keys):
    """Measured before: `spectrum --runs 2 --iterations 20` then the same with a --config file's
    `time_budget: 600` or `max_hvps: 5000` formed the same products again (0 HVPs now, the same
    numbers to the last bit)."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *plan))
    no_spectrum()
    _same_answer(_doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *plan, *_config(tmp_path, **keys))), first)


@pytest.mark.parametrize("plan", [PLAN, (*PLAN, "--hessian-samples", "40")])
def test_the_default_reads_what_a_budget_it_never_reached_stored(cli, own_ckpt, tmp_path, no_spectrum, plan):
    """The converse: `bounds --config ci.yaml --runs 2 --iterations 20` (its max_hvps and
    time_budget), then `gate --runs 2 --iterations 20`."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *plan, *_config(tmp_path, max_hvps=5000, time_budget=600)))
    no_spectrum()
    hit = _doc(cli("gate", own_ckpt, *BOUNDS, *cache, *plan, "--min-ratio", "0"))
    assert hit["cache_hit"] is True
    _same_answer(hit, first, gate=True)


def test_a_ceiling_that_cuts_the_top_ups_computes_its_own(cli, own_ckpt, tmp_path):
    """`max_hvps: 44` leaves the 40 products' runs 2 of their 6 top-ups (after the 2 measuring
    the products' error): the trace's ± is wider, so it is not the stored answer, nor stored as it."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *PLAN))
    cut = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *PLAN, *_config(tmp_path, max_hvps=44)))
    assert cut["timing"]["cached"] is False and cut["timing"]["hvps"] == 44
    assert cut["spectrum"]["trace_plus_minus"] > first["spectrum"]["trace_plus_minus"]
    again = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *PLAN))
    assert again["timing"]["cached"] is True and again["spectrum"] == first["spectrum"]


@pytest.fixture
def small_default_budget(monkeypatch):
    """The default's product budget at PLAN's 40 Lanczos products, as 1,600 is at 8 × 200 steps:
    it leaves no room to measure the products' error over all the data after the runs."""
    from prunelimit.api import curvature, options

    monkeypatch.setattr(options, "DEFAULT_MAX_HVPS", 40)
    monkeypatch.setattr(curvature, "DEFAULT_MAX_HVPS", 40, raising=False)  # imported there


def test_a_larger_ceiling_that_measures_the_data_s_error_computes(cli, own_ckpt, tmp_path, no_spectrum,
                                                                  small_default_budget):
    """With no room at the default's budget, the runs' 40 products and their 6 top-ups after the
    2 measuring: a ceiling of 50 holds 2 more, which may measure the products' error over all the
    data (the entry then keeps the slice's error beside it, which a read under another ε reads),
    so it computes; 48 and 49, which do not, read the stored answer."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *PLAN))
    assert first["timing"]["hvps"] == 48
    room = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *PLAN, *_config(tmp_path, max_hvps=50)))
    assert room["timing"]["cached"] is False
    no_spectrum()
    for ceiling in (48, 49):
        _same_answer(_doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *PLAN, *_config(tmp_path, max_hvps=ceiling))),
                     first)


def test_a_basis_memory_that_holds_the_bases_reads_the_answer_stored_at_auto(cli, own_ckpt, tmp_path, no_spectrum):
    """`--basis-memory` only refuses a fixed plan whose bases it cannot hold: `spectrum --runs 2
    --iterations 20`, then the same under a budget of 512 MB or of just the bases' bytes, formed
    the same products again (0 HVPs now); under less it is refused as before, not read."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *PLAN))
    held = first["memory"]["basis_mb"]  # one run's 20 float32 rows of 310 weights, nothing broke down
    assert held * 2**20 == 20 * 310 * 4
    refused = cli("spectrum", own_ckpt, *BOUNDS, *cache, *PLAN, "--basis-memory", repr(held * 0.99))
    assert refused.exit_code == 2 and "the bases need 24.8 KB of host memory" in refused.stderr
    no_spectrum()
    for budget in (512, held):
        _same_answer(_doc(cli("spectrum", own_ckpt, *BOUNDS, *cache, *PLAN, "--basis-memory", repr(budget))), first)
