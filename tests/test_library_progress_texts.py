"""Every status ``progress=`` hears from the library is one docs/library.md names."""

from __future__ import annotations

from pathlib import Path

import prunelimit

LIBRARY_DOC = Path(__file__).resolve().parents[1] / "docs" / "library.md"
WORST = "; at worst "  # adaptive SLQ's statuses end with what its product budget still allows


def _statuses(calls: list[tuple[int, int | None, str | None]]) -> set[str]:
    """The statuses heard, ρ* ± (whatever its numbers) as 'ρ*', a stage's name followed by
    the latest ρ* ± (", ρ* …") as its name."""
    texts = (text.split(WORST)[0] for *_, text in calls if text)  # the budget's worst case: tested apart
    return {"ρ*" if text.startswith("ρ* ") else text.split(", ρ* ")[0] for text in texts}


def test_every_status_the_library_passes_is_documented(model, train):
    """docs/library.md listed the statuses a caller's ``progress`` may hear, but not adaptive
    SLQ's 'first stage' (its text until the first ρ* ± is known) nor verify's refit search's
    'refit search: fine-tuning steps': a caller matching on them had only the code to read."""
    calls: list[tuple[int, int | None, str | None]] = []

    def progress(done, total=None, text=None):
        calls.append((done, total, text))

    prunelimit.verify(model, train, method="slq", hessian_samples=150, max_hvps=300, refit=True,
                      finetune_epochs=1, progress=progress)
    prunelimit.bounds(model, train, method="slq", max_hvps=100, per_layer=True, progress=progress)
    heard = _statuses(calls)
    assert {"first stage", "refit search: fine-tuning steps", "ρ*"} <= heard, heard
    listed = LIBRARY_DOC.read_text(encoding="utf-8").split("### Following the work", 1)[1].split("\n### ", 1)[0]
    assert "`ρ* ± uncertainty`" in listed and "followed by `, ρ* … ± …`" in listed
    assert any(WORST in text for *_, text in calls if text) and f"`{WORST}" in listed
    # the data check's and the top-up's statuses carry the latest ρ* ± (before: their names alone)
    assert any(text.startswith("data check on the subset's parts, ρ* ") for *_, text in calls if text)
    missing = sorted(text for text in heard - {"ρ*"} if f'`"{text}"`' not in listed)
    assert not missing, missing
