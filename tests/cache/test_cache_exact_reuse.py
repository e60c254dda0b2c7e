"""An exact spectrum in the cache answers the default method under any budget of its own:
± 0 meets every --tolerance, --max-hvps and --time-budget, so a CI job pays for the dense
Hessian once, not once per command whose budgets differ."""

from __future__ import annotations

import json

import pytest

from tests.cache.test_cache import SMALL

BOUNDS = ("--data", "digits:train", *SMALL, "--json")


def _doc(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("budget", [("--tolerance", "0.05"), ("--epsilon", "0.05"), ("--max-hvps", "5"), ("--time-budget", "1000"),
                                    ("--seed", "3"), ("--hessian-samples", "40")])
def test_a_default_run_with_other_budgets_reads_the_exact_spectrum_stored(cli, own_ckpt, tmp_path, no_spectrum,
                                                                          budget):
    """Measured before: a gate with a looser --tolerance than the bounds before it (a key of
    its own) computed the same dense Hessian again; now it reads it, with its ρ* and ± 0."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache))
    assert first["spectrum"]["solver"] == "exact"
    fresh = _doc(cli("bounds", own_ckpt, *BOUNDS, "--no-cache", *budget))
    no_spectrum()
    hit = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *budget))
    assert hit["timing"]["cached"] is True and hit["timing"]["hvps"] == 0
    assert hit["prediction"] == (fresh if budget[0] == "--epsilon" else first)["prediction"]
    assert "stored by an earlier run" in hit["spectrum"]["choice"]["reason"]


def test_a_stored_exact_spectrum_answers_another_epsilon(cli, own_ckpt, tmp_path, no_spectrum):
    """ε enters only ρ* (solved again on the stored spectrum): the same as computing."""
    cache = ("--cache-dir", tmp_path / "cache")
    _doc(cli("bounds", own_ckpt, *BOUNDS, "--method", "exact", *cache))
    fresh = _doc(cli("bounds", own_ckpt, *BOUNDS, "--epsilon", "0.02", "--no-cache"))
    no_spectrum()
    hit = _doc(cli("bounds", own_ckpt, *BOUNDS, "--epsilon", "0.02", *cache))
    assert hit["prediction"] == fresh["prediction"]


@pytest.mark.parametrize("plan", [("--method", "slq", "--iterations", "8"), ("--method", "paper")])
def test_an_asked_slq_plan_never_reads_the_exact_spectrum(cli, own_ckpt, tmp_path, plan):
    """SLQ asked for by name or plan is computed as asked, not replaced by the exact one."""
    cache = ("--cache-dir", tmp_path / "cache")
    _doc(cli("bounds", own_ckpt, *BOUNDS, *cache))
    again = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *plan))
    assert again["timing"]["cached"] is False and again["spectrum"]["solver"] != "exact"


@pytest.mark.parametrize("budget", [("--tolerance", "0.05"), ("--epsilon", "0.05"), ("--negative", "flat"),
                                    ("--time-budget", "1000"), ("--seed", "3"), ("--hessian-samples", "40")])
def test_an_exact_spectrum_a_default_run_with_other_budgets_chose_answers_the_default(cli, own_ckpt, tmp_path,
                                                                                    no_spectrum, budget):
    """The converse: measured before, a default ``bounds --tolerance 0.05`` that chose the exact
    spectrum stored it under its own budgets only, and the default-budget gate after it formed
    the same D columns again; now it reads it, with the ρ* and ± 0 of an uncached run."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *budget))
    assert first["spectrum"]["solver"] == "exact" and first["timing"]["hvps"] > 0
    fresh = _doc(cli("bounds", own_ckpt, *BOUNDS, "--no-cache"))
    no_spectrum()
    hit = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache))
    assert hit["timing"]["cached"] is True and hit["timing"]["hvps"] == 0
    assert hit["prediction"] == fresh["prediction"]
    assert "stored by an earlier run" in hit["spectrum"]["choice"]["reason"]
    gate = _doc(cli("gate", own_ckpt, *BOUNDS, *cache, "--min-ratio", "0"))
    assert gate["cache_hit"] is True and gate["bounds"]["prediction"] == fresh["prediction"]


@pytest.mark.parametrize("budget", [("--max-hvps", "20"), ("--time-budget", "0.001")])
def test_a_stored_exact_spectrum_replaces_a_cut_answer_stored_before_it(cli, own_ckpt, tmp_path, no_spectrum,
                                                                        budget):
    """Measured before: ``bounds --max-hvps 20`` (cut short: ± over the tolerance), then a
    default ``bounds`` (the exact spectrum), then ``--max-hvps 20`` again read its own cut
    answer, with the warning that the product budget ran out, though the exact spectrum
    stored between them meets its tolerance; now it reads the exact one, as it does when
    no cut answer was stored first."""
    cache = ("--cache-dir", tmp_path / "cache")
    cut = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *budget))
    assert cut["spectrum"]["stopped_by"] in ("max-hvps", "time-budget")
    assert any("is not within the tolerance" in w for w in cut["warnings"])
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache))
    assert first["spectrum"]["solver"] == "exact"
    no_spectrum()
    hit = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, *budget))
    assert hit["timing"]["cached"] is True and hit["spectrum"]["solver"] == "exact"
    assert hit["prediction"] == first["prediction"]
    assert not any("is not within the tolerance" in w for w in hit["warnings"])


@pytest.mark.parametrize("budget", [(), ("--epsilon", "0.05"), ("--negative", "flat"), ("--seed", "3")])
def test_method_exact_reads_the_exact_spectrum_a_default_run_chose(cli, own_ckpt, tmp_path, no_spectrum, budget):
    """Measured before: `bounds` (the default chose the exact spectrum) then `bounds --method
    exact` formed the same D columns again (2,410 products on the bundled example: the key
    differed by the method's name alone); now it reads them, with the ρ* of an uncached
    ``--method exact`` run (ε and the negative-curvature rule solved for on the stored spectrum)."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache))
    assert first["spectrum"]["solver"] == "exact" and first["timing"]["hvps"] > 0
    fresh = _doc(cli("bounds", own_ckpt, *BOUNDS, "--method", "exact", "--no-cache", *budget))
    no_spectrum()
    hit = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--method", "exact", *budget))
    assert hit["timing"]["cached"] is True and hit["timing"]["hvps"] == 0
    assert hit["prediction"] == fresh["prediction"] and hit["bounds"] == fresh["bounds"]
    assert hit["method"] == "exact"
    assert hit["spectrum"]["choice"]["reason"] == "the exact spectrum of this Hessian, stored by an earlier run"


def test_method_exact_never_reads_an_slq_answer_the_default_stored(cli, own_ckpt, tmp_path):
    """Where the default ran SLQ (too little time for the dense Hessian), --method exact computes."""
    cache = ("--cache-dir", tmp_path / "cache")
    first = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--time-budget", "0.001"))
    assert first["spectrum"]["solver"] != "exact"
    exact = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--method", "exact"))
    assert exact["timing"]["cached"] is False and exact["spectrum"]["solver"] == "exact"
