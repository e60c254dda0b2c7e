"""The measured limit's search, and the pruning to the prediction, sorted every prunable weight by
magnitude again after the command had sorted them: ``verify`` after ``bounds`` (its spectrum
cached, the search not) sorted them for the prediction and again for the search's path (a
25M-weight model: ~11 s a sort), a gate whose rules all use the measured limit for ε's target and
again for the search, and ``prune --ratio auto`` for the prediction and again for the masks. The
prediction's path (along ``--scope``) and the target's are the search's and the pruning's: one
sort a command. The limits and masks are unchanged (the JSON outputs before and after compared
apart from timings, docs/benchmarks.md)."""

from __future__ import annotations

import json

import pytest

from prunelimit.theory.profile import LayerwiseProfile, MagnitudeProfile
from tests.api.test_bounds_weights_sorted_once import _counting

COMMANDS = {  # the command before (filling the cache), and the one counted
    "verify after bounds": (("bounds",), ("verify",)),
    "verify --scope layer after bounds": (("bounds", "--scope", "layer"), ("verify", "--scope", "layer")),
    "verify --sweep after bounds": (("bounds",), ("verify", "--sweep", "20")),
    "gate --use actual": (None, ("gate", "--min-ratio", "0.0", "--use", "actual")),
    "prune --ratio auto after bounds": (("bounds",), ("prune", "--ratio", "auto")),
    "prune --ratio lower --scope layer after bounds": (("bounds", "--scope", "layer"),
                                                       ("prune", "--ratio", "lower", "--scope", "layer")),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_the_search_sorts_no_weight_the_command_sorted(cli, own_ckpt, tiny_model, tmp_path, monkeypatch, command):
    before, counted = COMMANDS[command]

    def run(args):
        output = ("-o", tmp_path / "pruned.pt") if args[0] == "prune" else ()
        return cli(*args[:1], own_ckpt, *args[1:], *output, "--max-samples", 300, "--cache-dir", tmp_path / "cache",
                   "--json")

    if before is not None:
        assert run(before).exit_code == 0
    whole, layers = _counting(monkeypatch, MagnitudeProfile), _counting(monkeypatch, LayerwiseProfile)
    result = run(counted)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    if counted[0] != "prune":
        searched = report["timing"]["search"] if "search" in report["timing"] else report["bounds"]["timing"]["search"]
        assert searched["cached"] is False  # the search ran here: its path is what is counted
    n = sum(p.numel() for p in tiny_model.parameters() if p.dim() > 1)  # every weight matrix: prunable
    assert whole.count(n) == 1, whole  # ε's target (and the prediction's global path)
    assert len(layers) == (1 if "layer" in command else 0), layers  # the layer-wise path: the prediction's


def test_prune_auto_of_weights_with_zeros_sorts_once(cli, tiny_model, tmp_path, monkeypatch):
    """A model with exact zeros holds them (``pruning_held``): they rank first on the prediction's
    path too, which the pruning takes (the 100 MB archive of docs/benchmarks.md holds one zero)."""
    from prunelimit.io.checkpoint import save_checkpoint
    from tests.conftest import SPEC

    state = {name: value.clone() for name, value in tiny_model.state_dict().items()}
    state["0.weight"][0, :4] = 0.0
    ckpt = tmp_path / "zeros.pt"
    save_checkpoint(ckpt, SPEC, state, meta={"data": "digits:train"})
    common = ("--max-samples", 300, "--cache-dir", tmp_path / "cache", "--json")
    assert cli("bounds", ckpt, *common).exit_code == 0
    whole = _counting(monkeypatch, MagnitudeProfile)
    result = cli("prune", ckpt, "--ratio", "auto", "-o", tmp_path / "pruned.pt", *common)
    assert result.exit_code == 0, result.stderr
    assert len(whole) == 1, whole  # the masks are those sorted here: tests/pruning/test_magnitude_path_given.py
