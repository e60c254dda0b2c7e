"""The data check's progress (a subsampled Hessian: ρ* again on each of the subset's parts):
its status replaced the ρ* ± text, so the whole ± (its data part with it) was never shown,
and it planned every part left at the main run's steps after parts had ended short."""

from __future__ import annotations

import pytest

import prunelimit
from prunelimit.report.rounding import estimate_text

DATA_CHECK = "data check on the subset's parts"


def _spectrum(model, train):
    calls: list[tuple[int, int | None, str | None]] = []
    rep = prunelimit.spectrum(model, train, method="slq", hessian_samples=40,
                              progress=lambda done, total=None, text=None: calls.append((done, total, text)))
    return rep, calls


def test_the_whole_plus_minus_is_shown_once_the_data_check_has_measured_it(small_model, train):
    rep, calls = _spectrum(small_model, train)
    assert rep.uncertainty.data > 0  # a subsampled Hessian: the ± has a data part
    whole = f"ρ* {estimate_text(rep.limit_ratio, rep.uncertainty.plus_minus)}"
    checking = [text for _, _, text in calls if text and text.startswith(DATA_CHECK)]
    assert checking and all(text.startswith(f"{DATA_CHECK}, ρ* ") for text in checking)  # the runs' ρ* ± stays
    end = max(i for i, (*_, text) in enumerate(calls) if text in checking)
    # from the data check's end on, the status holds the whole ± (before: "trace top-up" alone)
    assert calls[end + 1][2] == whole, calls[end + 1]
    assert all(text in (whole, f"trace top-up, {whole}") for *_, text in calls[end + 1:])
    assert calls[-1][:2] == (rep.hvps, rep.hvps)


def test_the_parts_left_are_planned_at_what_the_parts_take(small_model, train):
    """64-4-10 MLP, 100 of 300 samples: the runs took 90 steps, each quarter part 59 to 69
    products; the parts left were planned at 90 each (630 → 605 → 574 → 547 for 526). The
    check now runs on the subset less each part: over 40 of 300 samples the runs take 310
    steps and those sets of 30 samples 69 to 82 products."""
    rep, calls = _spectrum(small_model, train)
    taken = [part.hvps for part in rep.curvature_data.parts]
    steps = rep.iterations
    assert max(taken) < steps  # the parts end short: the case in question
    checking = [(done, total) for done, total, text in calls if text and text.startswith(DATA_CHECK)]
    start, end = checking[0][0] - 1, checking[-1][0]
    assert end - start == sum(taken)
    after_first = [total for done, total in checking if done > start + taken[0]]  # into the second part
    # once a part has ended, the parts left are planned at what parts take, to their spread
    assert max(after_first) <= end + (len(taken) - 1) * (max(taken) - min(taken)), after_first
    assert all(done <= total for done, total in checking)


def test_the_runs_plus_minus_shown_during_the_data_check_says_its_data_part_is_to_come(small_model, train):
    """During the data check the status showed the runs' ρ* ± bare ('data check on the subset's
    parts, ρ* 91.30 % ± 0.95 pt' on the bundled MLP over 200 samples, whose answer then stated
    ± 1.1 pt; '± 0 pt' where the runs spanned the subset's space), read as the answer's error
    bar: it now says that the data part is still to come, and the whole ± never says so."""
    rep, calls = _spectrum(small_model, train)
    assert rep.uncertainty.data > 0  # a subsampled Hessian: the whole ± has a data part
    checking = [text for _, _, text in calls if text and text.startswith(DATA_CHECK)]
    assert checking and all(text.endswith(" pt, data part to come") for text in checking), checking
    whole = f"ρ* {estimate_text(rep.limit_ratio, rep.uncertainty.plus_minus)}"
    after = [text for _, _, text in calls[max(i for i, c in enumerate(calls) if c[2] in checking) + 1:]]
    assert after and all(text.endswith(whole) for text in after), after


@pytest.mark.parametrize("plan", [{}, {"runs": 2, "iterations": 30}], ids=["adaptive", "fixed"])
def test_the_runs_plus_minus_over_a_subset_says_its_data_part_is_to_come(plan, small_model, train):
    """The runs' statuses over a subset ('ρ* 91.4 % ± 3.0 pt' on the bundled MLP over 200
    samples) were as bare as the data check's, the data part the check adds not in them: they
    say it is to come, and a spectrum over all the data, with no data part, does not."""
    def statuses(**options) -> list[str]:
        calls: list[str] = []
        prunelimit.spectrum(small_model, train, method="slq", **plan, **options,
                            progress=lambda done, total=None, text=None: calls.append(text or ""))
        # the worst case adaptive SLQ's product budget allows ends its statuses: tested apart
        return [text.split("; at worst ")[0] for text in calls if text.startswith("ρ* ")]

    subset = statuses(hessian_samples=40)
    runs = subset[:subset.index(next(text for text in subset if not text.endswith("data part to come")))]
    assert runs and all(text.endswith(" pt, data part to come") for text in runs), subset
    whole = statuses()
    assert whole and not any("data part" in text for text in whole), whole
