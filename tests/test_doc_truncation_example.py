"""The guide's example of an incomplete ± whose truncation part is unknown was stale: it cited
``--negative flat`` with ``--iterations 1``, which has long stated a bound (``steps ≤ 90 pt``
on the bundled example, ``steps_kind`` ``bracket``), so a reader who tried it saw a complete ±.
The guide now says what a run states and where the unknown part still comes from (a saved
report read with ``--from``); this checks both against real runs, so it cannot go stale again."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prunelimit.theory.uncertainty import Uncertainty
from tests.conftest import SAVED_DATA

ROOT = Path(__file__).resolve().parents[1]
GUIDE = " ".join((ROOT / "docs" / "guide.md").read_text(encoding="utf-8").split())
EXAMPLE = ROOT / "examples" / "digits-mlp.pt"


def _bullet() -> str:
    match = re.search(r"\* a part it could not measure \((.*?)fails, and its fix is to store the report again", GUIDE)
    assert match is not None
    return match[1]


def test_the_guides_unknown_truncation_example_is_what_runs_state(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    bullet = _bullet()
    shown = re.search(r"\(`(steps ≤ [^`]*)` on the bundled example\)", bullet)
    assert shown is not None and "`--iterations 1` and `--negative flat` included" in bullet
    example = cli("bounds", EXAMPLE, "--negative", "flat", "--iterations", "1", "--no-cache", "--threads", "1")
    assert example.exit_code == 0, example.stderr
    assert shown[1] in " ".join(example.stdout.split())  # the bound it states, as the guide quotes it
    made = cli("bounds", own_ckpt, "--method", "slq", "--iterations", "1", "--runs", "2", "--no-cache", "--json",
               *SAVED_DATA)
    assert made.exit_code == 0, made.stderr
    doc = json.loads(made.stdout)
    assert doc["prediction"]["uncertainty"]["steps_kind"] == "bracket"  # never unknown from a run
    u = doc["prediction"]["uncertainty"]
    # a report that states no steps part, its ± the parts it does state (as --from checks)
    u.update(steps=None, steps_kind="none",
             plus_minus=Uncertainty(u["probes"], None, u["data"], u["runs"], "none", u["probes_kind"], u["grid"],
                                    u["data_parts"], u["rounding"]).plus_minus)
    saved = tmp_path / "b.json"
    saved.write_text(json.dumps(doc))
    gated = cli("gate", own_ckpt, "--from", saved, "--min-ratio", "0.1", *SAVED_DATA)
    assert gated.exit_code == 1, gated.stderr
    quoted = re.search(r"`(the Lanczos truncation part is unknown)`", bullet)
    assert quoted is not None and quoted[1] in " ".join(gated.stdout.split())
    assert "fix: store the report again with `prunelimit bounds --json`" in gated.stdout  # as the guide says
