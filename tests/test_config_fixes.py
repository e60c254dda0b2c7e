"""A failed gate's fix names a run option where its reader set it: the key and the
``--config`` file when the file set it (as a rule written in the file names its key there),
the flag when the command line did."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits-mlp.pt"
# an SLQ plan over a subset: its ± leaves out the subset's shift, so a min_ratio rule fails with a fix
PLAN = {"method": "slq", "iterations": 20, "runs": 2, "max_samples": 400, "no_cache": True}


def _gate(cli, tmp_path: Path, config: dict, *flags: str, min_ratio: str = "0.5") -> tuple[dict, str, str]:
    """The gate's JSON fix of its one rule, its console output and its JUnit failure text."""
    path = tmp_path / "ci.yaml"
    path.write_text("".join(f"{key}: {json.dumps(value)}\n" for key, value in config.items()), encoding="utf-8")
    junit = tmp_path / "gate.xml"
    args = ["gate", EXAMPLE, "--config", path, "--min-ratio", min_ratio, "--junit", junit, *flags]
    doc = json.loads(cli(*args, "--json").stdout)
    console = cli(*args)
    assert console.exit_code == 1, console.stderr
    failure = ET.parse(junit).getroot().find(".//failure")
    return doc["rules"][0], console.stdout, failure.get("message", "") + (failure.text or "")


def test_a_fix_names_the_config_key_of_an_option_the_file_set(cli, tmp_path):
    """``hessian_samples: 300`` in ci.yaml: the fix said "pass --hessian-samples all", a flag
    the job's command line does not hold; it names the key in the file, in the JSON, on the
    console and in the JUnit report."""
    rule, console, junit = _gate(cli, tmp_path, {**PLAN, "hessian_samples": 300})
    written = f"hessian_samples: all in {tmp_path / 'ci.yaml'}"
    assert rule["fix"] == f"pass {written}"
    assert f"fix: pass {written}" in console.replace("\n", "") and written in junit  # the console wraps lines
    assert "--hessian-samples" not in rule["fix"] + junit


def test_each_option_of_a_fix_is_named_where_it_was_set(cli, tmp_path):
    """A value that clears min_ratio while its conservative side does not: the fix names
    ``iterations``, ``runs`` and ``method`` (a fixed plan, which no tolerance narrows) by their
    keys in the file that set them, and an option the file did not set (``method`` here given
    as a flag) by its flag."""
    config = tmp_path / "ci.yaml"
    rule, _, _ = _gate(cli, tmp_path, {**PLAN, "tolerance": 0.02}, min_ratio="0.85")
    assert rule["measured"] >= 0.85 > rule["compared"]  # the case under test: the ± alone falls short
    assert rule["fix"].endswith(f"(a larger iterations in {config} or runs in {config}, "
                                f"or method: exact in {config})")
    rule, _, _ = _gate(cli, tmp_path, {**{k: v for k, v in PLAN.items() if k != "method"}, "tolerance": 0.02},
                       "--method", "slq", min_ratio="0.85")
    assert rule["fix"].endswith(f"(a larger iterations in {config} or runs in {config}, or --method exact)")


def test_a_fix_names_the_flag_of_an_option_the_command_line_set(cli, tmp_path):
    """The same option typed on the command line (over the file's) is named by its flag."""
    rule, _, junit = _gate(cli, tmp_path, {**PLAN, "hessian_samples": 200}, "--hessian-samples", "300")
    assert rule["fix"] == "pass --hessian-samples all" and "--hessian-samples all" in junit


def test_option_names_a_configured_key_in_its_file_and_the_library_its_keyword():
    """What every message built with ``option`` inherits: the file's key for an option the
    file set, the flag for any other, the keyword to a library caller."""
    from prunelimit.errors import library_call, option, option_flag, options_configured

    with options_configured("ci.yaml", ["tolerance", "memory_budget"]):
        assert option("tolerance", 0.001) == "tolerance: 0.001 in ci.yaml"
        assert option_flag("tolerance") == option("tolerance") == "tolerance in ci.yaml"
        assert option("memory_budget_mb", 64, flag="--memory-budget") == "memory_budget: 64 in ci.yaml"
        assert option("method", "exact") == "--method exact" and option_flag("iterations") == "--iterations"
        assert option("runs", 2, flag="{0}") == "{0} 2"  # a template's field is filled by its reader
        with library_call():
            assert option("tolerance", 0.001) == "tolerance=0.001"
    assert option("tolerance", 0.001) == "--tolerance 0.001"


def test_a_warnings_remedy_names_the_key_of_a_configured_method():
    """The consistency warnings' remedy said ``--method default`` to every reader: the key
    where the file set the method, the keyword to a library caller."""
    from prunelimit.errors import library_call, options_configured
    from prunelimit.theory.consistency import consistency_warnings

    def remedies() -> str:
        return " ".join(consistency_warnings(0.692, 0.748, 0.869, 0.809, 0.0))

    with options_configured("ci.yaml", ["method"]):
        assert remedies().count("method: default in ci.yaml") == 2 and "--method" not in remedies()
    with library_call():
        assert remedies().count("method='default'") == 2 and "--method" not in remedies()
    assert remedies().count("--method default") == 2
