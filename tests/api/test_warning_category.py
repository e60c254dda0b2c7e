"""prunelimit's warnings are ``prunelimit.errors.PrunelimitWarning`` (a ``UserWarning``), so a
caller filters them apart from its own and other libraries'. They were plain ``UserWarning``s
pointed at the caller's line (their ``module`` the caller's): ``filterwarnings(category=…)``
took all of a program's ``UserWarning``s or none, ``filterwarnings(module="prunelimit")`` none."""

import warnings

import torch

import prunelimit
from prunelimit.errors import PrunelimitWarning

DROPS = "the DataLoader drops its short last batch"


def _short_last_batch(train) -> torch.utils.data.DataLoader:
    """A loader leaving 300 % 64 = 44 samples out: its call warns of them."""
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*train), batch_size=64, drop_last=True)


def test_a_calls_warning_is_a_prunelimit_warning(model, train):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = prunelimit.info(model, _short_last_batch(train))
    ours = [w for w in caught if DROPS in str(w.message)]
    assert len(ours) == 1 and ours[0].category is PrunelimitWarning and issubclass(PrunelimitWarning, UserWarning)
    assert ours[0].filename == __file__  # still pointed at the caller's line
    assert summary.accuracy is not None


def test_a_caller_ignores_prunelimits_warnings_and_keeps_its_own(model, train):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=PrunelimitWarning)
        prunelimit.info(model, _short_last_batch(train))
        warnings.warn("the caller's own", UserWarning)
    assert [str(w.message) for w in caught] == ["the caller's own"]
