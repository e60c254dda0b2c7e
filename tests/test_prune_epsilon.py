"""``prune --ratio auto|lower`` states the ε its ratio stands on, and where it came from, on
its own console line and in its JSON (``ratio.epsilon``, ``ratio.epsilon_source``), as
``bounds`` does: it was shown only inside the first-order warning ("more than ε = 0.0173")."""

from __future__ import annotations

import json

FAST = ("--max-samples", "300", "--threads", "1", "--no-cache", "--method", "exact")


def test_a_predicted_ratio_states_its_epsilon_as_bounds_does(cli, own_ckpt, tmp_path):
    saved = tmp_path / "b.json"
    saved.write_text(cli("bounds", own_ckpt, *FAST, "--json").stdout)
    bounds = json.loads(saved.read_text())
    shown = f"ε = {bounds['epsilon']:.4g} ({bounds['epsilon_source']})"
    assert shown in cli("bounds", own_ckpt, *FAST).stdout  # the words bounds states it in
    for source in ((), ("--from", saved)):
        args = ("prune", own_ckpt, "--ratio", "auto", *FAST[:4], *source, "--force", "-o", tmp_path / "p.pt")
        doc = json.loads(cli(*args, "--json").stdout)["ratio"]
        assert (doc["epsilon"], doc["epsilon_source"]) == (bounds["epsilon"], bounds["epsilon_source"])
        out = cli(*args)
        assert out.exit_code == 0, out.stderr
        assert shown in out.stdout.splitlines()
    given = json.loads(cli("prune", own_ckpt, "--ratio", "0.5", "-o", tmp_path / "g.pt", "--json").stdout)["ratio"]
    assert given["epsilon"] is None and given["epsilon_source"] is None  # no prediction, no ε


def test_verify_states_where_its_epsilon_came_from(cli, own_ckpt, tmp_path):
    """verify's line read ``ε = 0.01729 · dense loss …`` with no source, where bounds, gate and
    prune say ``(std of per-batch losses)`` or ``(given)``; a ``--from`` report's is its own."""
    saved = tmp_path / "b.json"
    saved.write_text(cli("bounds", own_ckpt, *FAST, "--epsilon", "0.02", "--json").stdout)
    for args in (FAST, (*FAST[:4], "--from", saved)):
        given = cli("verify", own_ckpt, *args, *(("--epsilon", "0.02") if "--from" not in args else ()))
        assert given.exit_code == 0, given.output
        assert "ε = 0.02 (given) · dense loss " in given.stdout
    derived = cli("verify", own_ckpt, *FAST)
    assert "ε = " in derived.stdout and " (std of per-batch losses) · dense loss " in derived.stdout
