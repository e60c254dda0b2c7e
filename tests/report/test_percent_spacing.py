"""Every printed percentage reads ``12.00 %``, a space before the sign, as the tables, the
README and the guide write it: the warnings of Hyperflux, the l1 regime, a pruning past its
ratio and the law fits printed ``12.00%``, and a script that reads ``(\\d+\\.?\\d*) %`` out of a
report missed them."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch

import prunelimit
from prunelimit.api.laws import _missed_target
from prunelimit.errors import OptionError, library_call
from prunelimit.laws.hyperflux import hyperflux_prune
from prunelimit.laws.nplh import _outside_warnings, _slope_warnings
from prunelimit.models.zoo import mlp
from prunelimit.report.rounding import percent, recovery_notes
from prunelimit.theory.regime import _finding, _pruned_finding

UNSPACED = re.compile(r"\d%")  # a number run into its percent sign
SPACED = re.compile(r"(\d+(?:\.\d+)?) %")  # how a user's script reads a percentage


def _percentages(text: str) -> list[float]:
    assert not UNSPACED.search(text), text
    return [float(p) for p in SPACED.findall(text)]


def test_the_rule_puts_one_space_before_the_sign() -> None:
    assert percent(0.1234) == "12.34 %"
    assert percent(0.95, 0) == "95 %"


@pytest.mark.parametrize("density, target, expected", [
    # off by more than 10 %: the density, the relative miss and the target, then the tolerance
    (0.05, 0.1, [5.0, 50.0, 10.0, 10.0]),
    (0.4, 0.1, [40.0, 300.0, 10.0, 10.0]),
])
def test_a_hyperflux_run_off_its_target_spaces_every_percentage(density, target, expected) -> None:
    [warning] = _missed_target(density, target, [])
    assert _percentages(warning)[:4] == expected


def test_the_regime_findings_space_their_shares() -> None:
    assert _percentages(_finding(0.05)) == [5.0, 10.0]  # near-zero share < L1_SHAPED_SHARE
    assert _percentages(_pruned_finding(0.25, 0.05)) == [25.0, 5.0, 10.0]


def test_the_nplh_warnings_state_densities_in_spaced_percent() -> None:
    """The automatic region outside the default one: its densities were fractions beside the
    default region's percentages (``0.5 %–50 % ... they span 0.6–0.9``)."""
    [outside] = _outside_warnings(np.log(np.array([0.6, 0.7, 0.8, 0.9])), 0.6, 0.8, 3)
    assert _percentages(outside) == [0.5, 50.0, 60.0, 90.0, 60.0, 80.0]
    [slope] = _slope_warnings((-0.5, 1.0), 3, 0.95)
    assert _percentages(slope) == [95.0]


def test_the_recovery_note_spaces_its_ratios() -> None:
    [note] = recovery_notes(0.888, None, 0.5, 0.6)
    assert _percentages(note) == [50.0, 60.0]


def test_a_pruning_past_the_ratio_asked_for_warns_in_spaced_percent() -> None:
    torch.manual_seed(0)
    model = mlp([64, 12, 10])
    pruned = prunelimit.prune(model, 0.8).apply(copy.deepcopy(model))
    [warning] = [w for w in prunelimit.prune(pruned, 0.5).warnings if "stays pruned" in w]
    shares = _percentages(warning)
    assert shares[1] == 50.0 and shares[0] == pytest.approx(80.0, abs=0.2)  # whole weights: ceil(0.8·N) of N


def test_the_hyperflux_refusal_spaces_the_share_of_gates_it_closes() -> None:
    torch.manual_seed(0)
    model = mlp([8, 16, 4])
    batches = [(torch.randn(4, 8), torch.arange(4) % 4)] * 2
    with library_call(), pytest.raises(OptionError) as refused:
        hyperflux_prune(model, batches, lambda m, b: m(b[0]).sum(), 0.5, pruning_epochs=3, regrowth_epochs=0)
    assert _percentages(str(refused.value)) == [50.0]
