"""A float64 model's default times its products once (a warm-up and 3 timed: 4), not twice
(8), yet a given --max-hvps ruled the exact spectrum out below D + 8 and said 'its timing 8':
D = 310 under --max-hvps 316 ran adaptive SLQ, where the exact spectrum takes 314 products.
The rule now counts the products the timing of this model's dtype takes."""

from __future__ import annotations

import pytest
import torch

import prunelimit
from prunelimit.data.spec import load_dataset


def _model_and_data(dtype: torch.dtype):
    data = load_dataset("digits:train", max_samples=200)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 4), torch.nn.ReLU(), torch.nn.Linear(4, 10)).to(dtype)
    return model, (data.x.to(dtype), data.y)


def test_a_float64_model_takes_the_exact_spectrum_within_d_plus_its_4_timed_products() -> None:
    model, data = _model_and_data(torch.float64)
    found = prunelimit.spectrum(model, data, max_hvps=314)
    assert (found.solver, found.params_hessian, found.hvps) == ("exact", 310, 314)


@pytest.mark.parametrize(("dtype", "timed"), [(torch.float64, 4), (torch.float32, 8)])
def test_below_d_and_the_timing_the_reason_counts_the_timing_of_the_models_dtype(dtype, timed) -> None:
    model, data = _model_and_data(dtype)
    found = prunelimit.spectrum(model, data, max_hvps=310 + timed - 1, tolerance=0.5)
    assert found.solver == "slq-h"
    assert f"the exact spectrum takes D = 310 products and its timing {timed}, more than" in found.choice.reason
