"""A library call leaves Python's ``random`` module as it found it: the first use of a name of
``import prunelimit`` imports its module, and rich, imported with it, draws its ``Style`` ids from
that module. Only a process's first call shows it, so the test runs one in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

FIRST_CALL = """
import random
import torch
import prunelimit
torch.manual_seed(0)
x = torch.randn(60, 4)
y = (x[:, 0] > 0).long()
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
random.seed(0)
expected = random.random()
random.seed(0)
{call}
print(random.random() == expected)
"""
CALLS = {
    "bounds": "prunelimit.bounds(model, (x, y), batch_size=20, method='exact')",
    "info": "prunelimit.info(model, (x, y))",
}


@pytest.mark.parametrize("name", CALLS)
def test_a_processs_first_call_leaves_pythons_random_state_as_it_was(name):
    """``random.seed(0)``, then the process's first ``prunelimit.bounds`` (or ``info``): the
    caller's next ``random.random()`` is the one the seed gives (it was another: importing rich
    drew 24 bits)."""
    code = FIRST_CALL.format(call=CALLS[name])
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.split()[-1] == "True", found.stderr[-2000:]
