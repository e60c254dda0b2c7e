"""A law fit given the JSON its command prints (``law nplh --json``, ``imp --json``) in place of the
points' CSV: it said only that the header ``['{']`` lacks ``density,gamma``, and for a JSON on one
line (``json.dump``'s) it printed the whole file as that header. It names the fix, in two lines."""

from __future__ import annotations

import json

import pytest


BODY = {"schema": "prunelimit.law-nplh/1", "alpha0": 0.7,
        "points": [{"density": 0.5 / 2 ** k, "gamma": 0.1 * 2 ** k} for k in range(200)]}


@pytest.mark.parametrize("indent", [2, None])  # as --json prints it, and on one line
@pytest.mark.parametrize("command, written", [("nplh-fit", "`law nplh -o points.csv`"),
                                              ("error-fit", "`imp` (its imp.csv)")])
def test_a_json_file_is_refused_naming_the_csv(tmp_path, cli, indent, command, written):
    path = tmp_path / "law.json"
    path.write_text(json.dumps(BODY, indent=indent))
    run = cli("law", command, path)
    assert run.exit_code == 3
    assert f"the file is JSON (as --json prints), not CSV: give the CSV of the points that {written} writes" in run.stderr
    assert len(run.stderr) < 500 and "gamma\": 12.8" not in run.stderr  # not the file's contents
