"""The guide's shell completion (`prunelimit bo<TAB>` → bounds) is typer's, and it completes
commands, subcommands' options and choice values."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from prunelimit.cli import app


@pytest.mark.parametrize("line, expected", [
    ("prunelimit bo", ["bounds"]),
    ("prunelimit law nplh-", ["nplh-fit"]),
    ("prunelimit law nplh x --mode ", ["static", "iterative", "pressure"]),
])
def test_bash_completion_offers_what_the_guide_says(line, expected):
    words = line.split(" ")
    env = {"_PRUNELIMIT_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    result = CliRunner().invoke(app, [], prog_name="prunelimit", env=env)
    assert result.exit_code == 0 and result.output.split() == expected
