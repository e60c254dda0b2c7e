"""verify on a half-precision model: the weights' near-zero shares are read in float64
(numpy has no bfloat16), so a bfloat16 model is verified as a float16 one is."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import prunelimit


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_verify_on_a_half_precision_model_states_its_near_zero_weights(model, train, dtype):
    half = model.to(dtype)
    report = prunelimit.verify(half, (train[0].to(dtype), train[1]), method="exact")
    weights = np.abs(torch.cat([half[0].weight.reshape(-1), half[2].weight.reshape(-1)]).detach().double().numpy())
    assert report.near_zero == {f"{t:g}": float(np.mean(weights < t)) for t in (1e-3, 1e-2, 1e-1)}
    assert 0 <= report.actual.loss_ratio < 1
