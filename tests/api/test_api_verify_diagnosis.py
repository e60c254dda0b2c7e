"""``verify``'s diagnosis of a large gap quotes the weights pruning removes next."""

from __future__ import annotations

import numpy as np
import torch

from prunelimit.api.verification import PredictedLimit, _diagnose, weight_shares
from prunelimit.theory.regime import assess_regime


def _prediction() -> PredictedLimit:
    return PredictedLimit(ratio=0.9, lower=0.8, upper=0.95, epsilon=0.05, radius=2.0, trace=20.0,
                          params_hessian=1000, scope="global", warnings=(), cached=False)


def test_a_pruned_models_zeros_are_stated_apart_from_the_near_zero_shares() -> None:
    """60 % pruned, the rest 0.5 in size: the diagnosis said the weights are "not concentrated
    near zero (60.0 % below 0.001, 60.0 % below 0.01, 60.0 % below 0.1)", its own counter-evidence."""
    magnitudes = np.concatenate([np.zeros(600), np.full(400, 0.5)])
    cause = _diagnose(_prediction(), 0.2, weight_shares(magnitudes), assess_regime([torch.from_numpy(magnitudes)]))[1]
    assert "60.0 % exactly zero already; of the rest 0.0 % below 0.001, 0.0 % below 0.01, 0.0 % below 0.1" in cause


def test_a_dense_models_shares_are_of_all_its_weights() -> None:
    magnitudes = np.array([0.0005, 0.005, 0.05, 0.5])
    assert weight_shares(magnitudes) == "25.0 % below 0.001, 50.0 % below 0.01, 75.0 % below 0.1"
    assert _diagnose(_prediction(), 0.01, weight_shares(magnitudes), assess_regime([torch.from_numpy(magnitudes)])) == []  # a small gap needs no words
