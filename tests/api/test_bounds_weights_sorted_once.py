"""A cached ``bounds`` (and the gate on it) sorted every prunable weight by magnitude four or
five times: the stored spectrum's ± solved for this run's ε (a fixed plan), its rounding note,
ε's target, the pruning path and the overshoot check each built the same profile again (five
sorts of 25M weights were ~35 s of a ~50 s cached gate, docs/benchmarks.md); a cached
``spectrum --per-layer`` three times. One sort a command now, passed on; the layer-wise path
is built once too. The answer is the one the computing run gave (the overshoot check's losses
and counts included)."""

from __future__ import annotations

import json

import pytest

from prunelimit.theory.profile import LayerwiseProfile, MagnitudeProfile

COMMANDS = {
    "bounds": ("bounds",),
    "bounds, a fixed plan": ("bounds", "--method", "slq", "--runs", "2", "--iterations", "12"),
    "bounds --scope layer": ("bounds", "--scope", "layer"),
    "gate": ("gate", "--min-ratio", "0.0", "--use", "predicted"),
    "spectrum --per-layer, a fixed plan": ("spectrum", "--per-layer", "--method", "slq", "--runs", "2",
                                           "--iterations", "12"),
}


def _counting(monkeypatch, cls) -> list[int]:
    """The weights each ``cls.from_tensors`` call sorts, by count."""
    sorted_counts, real = [], cls.from_tensors
    monkeypatch.setattr(cls, "from_tensors", classmethod(
        lambda _, tensors, *a, **k: sorted_counts.append(sum(t.numel() for t in tensors)) or real(tensors, *a, **k)))
    return sorted_counts


@pytest.mark.parametrize("command", COMMANDS)
def test_a_cached_bounds_sorts_the_weights_once(cli, own_ckpt, tiny_model, tmp_path, monkeypatch, command):
    args = (*COMMANDS[command][:1], own_ckpt, *COMMANDS[command][1:], "--max-samples", 300,
            "--cache-dir", tmp_path / "cache", "--json")
    first = cli(*args)
    assert first.exit_code == 0, first.stderr
    whole, layers = _counting(monkeypatch, MagnitudeProfile), _counting(monkeypatch, LayerwiseProfile)
    again = cli(*args)
    assert again.exit_code == 0, again.stderr
    computed, cached = (json.loads(r.stdout) for r in (first, again))
    if command == "gate":
        computed, cached = computed["bounds"], cached["bounds"]
    assert cached["timing"]["cached"] is True
    n = sum(p.numel() for p in tiny_model.parameters() if p.dim() > 1)  # every weight matrix: prunable
    assert whole.count(n) == 1, whole  # the global path: ε's target's, the path's, the check's, the blocks'
    assert len(layers) == (1 if "scope" in command else 0)
    compared = [key for key in ("prediction", "bounds", "overshoot", "epsilon", "layers") if key in computed]
    assert len(compared) >= 3
    for key in compared:
        assert cached[key] == computed[key], key
