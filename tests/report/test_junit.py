"""JUnit XML of a gate: the run's warnings reach the CI page."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from prunelimit.report.junit import junit_xml


def test_warnings_are_in_the_suites_output_and_properties_escaped():
    """Every warning (markup and control characters in it included) is one line of the
    suite's ``<system-out>`` and one ``warning`` property; the document stays valid XML."""
    warnings = ["the model is not at a minimum (‖∇L‖ = 0.04) <train longer> & see ]]>", "ε \x07 from a subset"]
    root = ET.fromstring(junit_xml("prunelimit gate", [("floor", True, "passed")], 1.0, warnings=warnings))
    suite = root.find("testsuite")
    assert [p.get("value") for p in suite.findall("properties/property[@name='warning']")] == [
        warnings[0], "ε \\x07 from a subset"]
    assert suite.find("system-out").text.splitlines() == [f"warning: {warnings[0]}", "warning: ε \\x07 from a subset"]
    assert suite.find("testcase/system-out").text == "passed"


def test_a_run_without_warnings_adds_nothing():
    suite = ET.fromstring(junit_xml("prunelimit gate", [("floor", False, "below")])).find("testsuite")
    assert suite.find("properties") is None and suite.find("system-out") is None
