"""``prunelimit.prune`` with a number reads no data: ``data``, ``loss``, ``batch_size`` and
``progress`` beside it are refused naming the keyword, as the curvature options are."""

from __future__ import annotations

import pytest

import prunelimit
from prunelimit.errors import UsageError


@pytest.mark.parametrize("keyword", ["data", "loss", "progress"])
def test_a_number_refuses_what_it_would_not_read_naming_the_keyword(model, train, keyword):
    """``prune(model, 0.5, data, progress=cb)`` read the data (the model run on it) and then
    ignored it, the loss, the batch size and the callback without a word; the command's
    ``--data`` beside ``--ratio 0.5`` gives the loss and accuracy before and after. (A
    ``batch_size`` is refused with the data, and without it as everywhere: "no data is given",
    tests/test_library_batch_size.py.)"""
    given = {"data": train, "loss": "mse", "progress": lambda done, total=None, text=None: None}
    with pytest.raises(UsageError) as refused:
        prunelimit.prune(model, 0.5, batch_size=8 if keyword == "data" else None, **{keyword: given[keyword]})
    assert str(refused.value) == (
        f"{keyword} has no effect: ratio=0.5 is given, nothing is predicted, and the masks are all it returns "
        "(a model's loss and accuracy: prunelimit.info(model, data)); drop it, or use ratio='auto' or "
        "ratio='lower'")
    assert prunelimit.prune(model, 0.5, loss="ce").achieved == 0.5  # the default loss written out is no change
