"""JUnit XML for CI systems: one test case per gate rule."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Sequence

from prunelimit.io.atomic import write_text_atomic
from prunelimit.report.safe import printable


def junit_xml(suite: str, cases: Sequence[tuple[str, bool, str]], seconds: float = 0.0,
              error: str | None = None, warnings: Sequence[str] = (),
              facts: Sequence[tuple[str, str]] = ()) -> str:
    """``cases`` are ``(name, passed, message)``; returns a well-formed JUnit document.
    ``error``: the run ended in an error instead (exit 2 or 3); the document then holds one
    errored case with that message. ``warnings``: the run's warnings, one a line in the
    suite's ``<system-out>`` (where CI test views show a suite's output), each also a
    ``warning`` property, so that a passing gate's caveats reach the CI page too.
    ``facts``: ``(name, line)`` of what the verdict stood on, as the console states them
    (``console.gate_lines``: ρ* with its ±, the solver and its stop, the cost), each a
    property of that name and a line of ``<system-out>`` before the warnings.

    XML 1.0 cannot hold most control characters even escaped, so names and messages (which
    may quote file names) pass through ``printable`` first.
    """
    suite = printable(suite)
    if error is not None:
        cases = [(suite, False, error)]
    cases = [(printable(name), ok, printable(message)) for name, ok, message in cases]
    failures = 0 if error is not None else sum(not ok for _, ok, _ in cases)
    errors = len(cases) if error is not None else 0
    root = ET.Element("testsuites", tests=str(len(cases)), failures=str(failures), errors=str(errors))
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures),
                         errors=str(errors), time=f"{seconds:.3f}")
    warnings = [printable(w) for w in warnings]
    facts = [] if error is not None else [(printable(name), printable(line)) for name, line in facts]
    named = [*facts, *(("warning", w) for w in warnings)]
    if named:  # properties come first in a testsuite (the JUnit schema's order)
        properties = ET.SubElement(node, "properties")
        for name, value in named:
            ET.SubElement(properties, "property", name=name, value=value)
    for name, ok, message in cases:
        case = ET.SubElement(node, "testcase", classname=suite, name=name, time=f"{seconds / max(len(cases), 1):.3f}")
        if ok:
            ET.SubElement(case, "system-out").text = message
        elif error is not None:
            ET.SubElement(case, "error", message=message, type="GateError").text = message
        else:
            ET.SubElement(case, "failure", message=message, type="GateFailed").text = message
    if named:
        ET.SubElement(node, "system-out").text = "\n".join([*(line for _, line in facts),
                                                            *(f"warning: {w}" for w in warnings)])
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def write_junit(path: str | Path, suite: str, cases: Sequence[tuple[str, bool, str]], seconds: float = 0.0,
                force: bool = True, error: str | None = None, warnings: Sequence[str] = (),
                facts: Sequence[tuple[str, str]] = ()) -> Path:
    return write_text_atomic(path, junit_xml(suite, cases, seconds, error, warnings, facts), force)
