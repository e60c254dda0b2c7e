"""`prune --ratio auto|lower --json` stated the overshoot check only in its warnings' words:
a CI step that prunes to the prediction could not tell, as `bounds`, `verify` and `gate` let
it (`jq -e '.overshoot.lower | not'`), that the ratio lay past the limit one-shot pruning
reaches. On the bundled example's layer path (ρ_L 80.83 % and ρ* − 5 points measured past
L + ε) the document had no `overshoot`; it now holds bounds' check, the one a `--from` report
states, and `null` for a given ratio."""

from __future__ import annotations

import json
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"
LAYER = ("--scope", "layer", "--threads", "1", "--json")


def _json(cli, *args) -> dict:
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_a_prune_to_the_prediction_states_the_overshoot_bounds_measured(cli, tmp_path) -> None:
    check = _json(cli, "bounds", EXAMPLE, *LAYER)["overshoot"]
    assert check["lower"] is True and check["predicted"] is True
    for ratio in ("auto", "lower"):  # the spectrum bounds stored: the same check, read with it
        pruned = _json(cli, "prune", EXAMPLE, "--ratio", ratio, "-o", tmp_path / f"{ratio}.pt", *LAYER)
        assert pruned["overshoot"] == check and pruned["timing"]["cached"] is True
    (tmp_path / "b.json").write_text(json.dumps(_json(cli, "bounds", EXAMPLE, *LAYER)))
    read = _json(cli, "prune", EXAMPLE, "--ratio", "auto", "--from", tmp_path / "b.json", "-o", tmp_path / "f.pt",
                 *LAYER)
    assert read["overshoot"] == check and read["ratio"]["prediction_from"] == str(tmp_path / "b.json")


def test_a_given_ratio_states_no_overshoot(cli, tmp_path) -> None:
    pruned = _json(cli, "prune", EXAMPLE, "--ratio", "0.5", "-o", tmp_path / "p.pt", "--json")
    assert "overshoot" in pruned and pruned["overshoot"] is None
