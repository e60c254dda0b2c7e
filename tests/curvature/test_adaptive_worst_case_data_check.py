"""The worst case adaptive SLQ's status states holds what must follow the runs: over a
`--hessian-samples` subset the data check runs the first probe's steps again on each of the
subset's 4 parts, outside the default product budget, as many products as the runs or more.
The status left it out: an MLP over 8,192 of 16,000 samples read 'at worst 1,600 products,
≈ 0:00:01 more' with the check's 2,132 products and some 2:50 ahead."""

from __future__ import annotations

import re

import prunelimit
from prunelimit.curvature.adaptive import Afterwards, AdaptivePlan, adaptive_slq

from tests.curvature.test_adaptive import _assess_by_steps, _operator, _Timed

WORST = re.compile(r"; at worst 200 products(?: and a data check of ([\d,]+))?, ≈ (\d+):(\d+):(\d+) more$")


def _worst_cases(after: Afterwards) -> list[tuple[int, int, int]]:
    """One run at 1 s a product on the simulated clock, never precise enough, 200 Lanczos
    products at most: (products done, data check named, seconds stated) of each status that
    states a worst case."""
    timed = _Timed(_operator(400))
    plan = AdaptivePlan(tolerance=1e-9, max_products=200, initial_steps=8, initial_runs=1, after=after)
    seen: list[tuple[int, int, int]] = []

    def progress(done, total, text, left=None) -> None:
        if (found := WORST.search(text)) is not None:
            check, h, m, s = found.groups()
            seen.append((done, int((check or "0").replace(",", "")), 3600 * int(h) + 60 * int(m) + int(s)))

    adaptive_slq(timed, plan, _assess_by_steps(1000), seed=0, clock=lambda: timed.seconds, progress=progress)
    return seen


def test_a_data_check_outside_the_budget_is_in_the_worst_case() -> None:
    """4 parts, uncounted (the default's Lanczos-only budget): the run reaches 200 steps at
    worst, and the check then takes 4 × 200 products. At 1 s a product (exact on this clock)
    each status states the run's products left plus those 800; before, the products left alone
    (199 s at the first product, where 999 s were ahead)."""
    seen = _worst_cases(Afterwards(per_step=4))
    assert seen and seen[0][0] == 1
    for done, check, seconds in seen:
        assert (check, seconds) == (800, 200 - done + 800), (done, check, seconds)


def test_a_counted_data_check_stays_within_the_budget() -> None:
    """A given --max-hvps counts the check: the run holds back 4 products a step, so the 200
    products are the worst case, at 1 s each, with no check beyond them to name."""
    seen = _worst_cases(Afterwards(per_step=4, counted=True))
    assert seen and all((check, seconds) == (0, 200 - done) for done, check, seconds in seen), seen


def test_a_subsampled_spectrum_names_its_data_check_in_the_worst_case(small_model, train) -> None:
    """Through the library: the bundled MLP's curvature over 40 of the 300 samples. While
    the runs go on, their worst case names the data check at 4 products a step of the steps
    they could reach (every status that states one), and over all the data there is none to
    name."""
    def worst_cases(**options) -> list[str]:
        texts: list[str] = []
        prunelimit.spectrum(small_model, train, method="slq", **options,
                            progress=lambda done, total=None, text=None: texts.append(text or ""))
        return [text for text in texts if "; at worst " in text]

    subset = worst_cases(hessian_samples=40)
    assert subset and all(" and a data check of " in text for text in subset), subset
    whole = worst_cases()
    assert whole and not any("data check" in text for text in whole), whole
