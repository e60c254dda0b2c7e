"""One torch thread for the curvature tests: the many tiny matvecs slow down several-fold
under thread contention on shared 2-core machines."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
