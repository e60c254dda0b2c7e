"""``spectrum`` states the ε its ρ* is solved for, as ``bounds`` does: an ``ε`` row on the
console, ``epsilon``/``epsilon_source`` in ``--json`` and on the library's result. It
printed ρ* without it, so a spectrum's ρ* beside a bounds run of another ``--epsilon``
could not be told apart."""

from __future__ import annotations

import json

import prunelimit
from tests.conftest import LIBRARY_SAMPLES

FIXED = ("--method", "exact", "--max-samples", str(LIBRARY_SAMPLES), "--threads", "1")


def _doc(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_spectrum_states_the_epsilon_of_its_rho_as_bounds_does(cli, small_ckpt):
    spectrum, bounds = _doc(cli("spectrum", small_ckpt, *FIXED, "--json")), _doc(cli("bounds", small_ckpt, *FIXED, "--json"))
    assert spectrum["epsilon_source"] == bounds["epsilon_source"] == "std of per-batch losses"
    assert spectrum["epsilon"] == bounds["epsilon"]  # one input, one ε: to the bit
    # ρ* of the same exact spectrum and ε: the continuous root both solve
    assert spectrum["prediction"]["ratio"] == bounds["prediction"]["continuous_ratio"]
    console = cli("spectrum", small_ckpt, *FIXED)
    row = next(line for line in console.stdout.splitlines() if line.startswith("│ ε "))
    assert f"{bounds['epsilon']:.4g} (std of per-batch losses)" in row


def test_a_spectrum_read_from_the_cache_states_its_own_epsilon(cli, small_ckpt):
    """``spectrum`` reads the exact spectrum a ``bounds --epsilon 0.05`` stored and solves ρ*
    again for the ε of its own data: the ε stated is that one, not the stored run's."""
    fresh = _doc(cli("spectrum", small_ckpt, *FIXED, "--json", "--no-cache"))
    assert _doc(cli("bounds", small_ckpt, *FIXED, "--epsilon", "0.05", "--json"))["epsilon_source"] == "given"
    cached = _doc(cli("spectrum", small_ckpt, *FIXED, "--json"))
    assert cached["timing"]["cached"] is True
    assert (cached["epsilon"], cached["epsilon_source"]) == (fresh["epsilon"], "std of per-batch losses")
    assert cached["prediction"]["ratio"] == fresh["prediction"]["ratio"]


def test_the_library_result_holds_the_epsilon_bounds_holds(small_model, train):
    found = prunelimit.spectrum(small_model, train, method="exact")
    limit = prunelimit.bounds(small_model, train, method="exact")
    assert (found.epsilon, found.epsilon_source) == (limit.epsilon, limit.epsilon_source)
    assert found.to_json()["epsilon"] == limit.epsilon
    given = prunelimit.spectrum(small_model, train, method="exact", epsilon=0.05)
    assert (given.epsilon, given.epsilon_source) == (0.05, "given")


def test_no_epsilon_is_stated_where_there_is_no_rho(cli, small_ckpt):
    """One analysis batch and no ``--epsilon``: no ε, hence no ρ*, and nothing printed of either."""
    doc = _doc(cli("spectrum", small_ckpt, "--method", "exact", "--max-samples", "100", "--threads", "1", "--json"))
    assert doc["prediction"] is None and doc["epsilon"] is None and doc["epsilon_source"] is None
    console = cli("spectrum", small_ckpt, "--method", "exact", "--max-samples", "100", "--threads", "1")
    assert not any(line.startswith(("│ ε ", "│ ρ* ")) for line in console.stdout.splitlines())
