"""``spectrum.float64_products`` says whether the spectrum was formed from float64 products.
It was false for the exact spectrum, whose columns are float64 products (``--method exact``
on the bundled-size MLP: ``"float64_products": false``), and for a float64 model's SLQ, so
the flag read as "float32" for answers that never touched a float32 product; true only for a
float32 model's float64 re-run. Now it is true wherever the products were float64."""

from __future__ import annotations

import copy


import prunelimit
from tests.curvature.test_product_error_rounding import _classifier_near_zero_loss


def test_the_flag_is_true_wherever_the_products_were_float64() -> None:
    model, data = _classifier_near_zero_loss()
    exact = prunelimit.bounds(model, data, method="exact", batch_size=16)
    assert exact.to_json()["spectrum"]["float64_products"] is True
    assert exact.spectrum.quadrature.float64_products
    narrow = prunelimit.bounds(model, data, method="slq", seed=0, batch_size=16, max_hvps=60)
    assert narrow.to_json()["spectrum"]["float64_products"] is False
    wide_model = copy.deepcopy(model).double()
    wide = prunelimit.bounds(wide_model, (data[0].double(), data[1]), method="slq", seed=0, batch_size=16,
                             max_hvps=60)
    doc = wide.to_json()["spectrum"]
    assert doc["float64_products"] is True and all(row["float64_products"] for row in doc["trail"])
