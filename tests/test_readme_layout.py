"""README's "What is inside" names what `prunelimit/` holds: every subpackage and every
library module (`library_laws.py`, which `import prunelimit` serves the laws' fits from, was
left out), and nothing that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "prunelimit"


def _section() -> str:
    """The section's paragraph on the package (the next one, "Docs: …", names docs/)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## What is inside")
    return text[start:text.index("\nDocs:", start)]


def test_what_is_inside_names_every_subpackage_and_library_module():
    named = set(re.findall(r"`([\w/.]+)`", _section()))
    packages = {f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    libraries = {p.name for p in PACKAGE.glob("library*.py")}
    assert sorted((packages | libraries) - named) == []
    stated = {n for n in named if n.endswith("/") or n.endswith(".py")} - {"prunelimit/"}
    assert sorted(n for n in stated if not (PACKAGE / n).exists()) == []
