"""``--device`` names a device in ASCII digits, as torch.device reads it."""

from __future__ import annotations

import pytest

from prunelimit.device import resolve_device
from prunelimit.errors import UsageError


@pytest.mark.parametrize("text", ["cuda:٣", "cuda:１", "cuda:1.0"])
def test_a_device_index_that_is_no_ascii_whole_number_is_refused_naming_the_forms(text):
    """``\\d`` took other scripts' digits (``cuda:٣``), which torch.device refuses: on a GPU
    machine an internal error; here it was told that no CUDA device is available."""
    with pytest.raises(UsageError, match=f"^--device '{text}': use auto, cpu, cuda or cuda:N$"):
        resolve_device(text)
