"""The docs' cross-references resolve: relative links and their anchors, `docs/NAME.md`
named in prose, in code comments and in `--help`, and section names quoted after them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCES = [*DOCS, *sorted((ROOT / "prunelimit").rglob("*.py")), *sorted((ROOT / "benchmarks").glob("*.py"))]


def _headings(path: Path) -> list[str]:
    """The headings of a Markdown file, outside code blocks."""
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    return re.findall(r"^#+ (.*)$", text, flags=re.M)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_relative_links_and_their_anchors_resolve():
    broken = []
    for doc in DOCS:
        for link in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            if link.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = link.partition("#")
            target = (doc.parent / path).resolve() if path else doc
            if not target.exists():
                broken.append((doc.name, link))
            elif anchor and target.suffix == ".md" and anchor not in map(_anchor, _headings(target)):
                broken.append((doc.name, link))
    assert broken == []


def test_documents_named_in_text_exist_and_so_do_the_sections_quoted_after_them():
    """`docs/methods.md, "How the default chooses its solver"` in a doc, a comment or a
    help text: the file exists and a heading starts with the quoted words."""
    missing = []
    for source in SOURCES:
        text = source.read_text(encoding="utf-8")
        for name, section in re.findall(r"docs/([\w-]+\.md)(?:\)?, \"([^\"\n]+)\")?", text):
            target = ROOT / "docs" / name
            if not target.exists():
                missing.append((source.name, name))
            elif section and not any(h.strip("`").startswith(section) for h in _headings(target)):
                missing.append((source.name, name, section))
    assert missing == []


def test_nothing_cites_the_specification_or_research_notes():
    """Code and docs cite the papers and the repository's own docs."""
    citing = [s.name for s in SOURCES if re.search(r"SPEC\.md|research/|research note", s.read_text(encoding="utf-8"))]
    assert citing == []
