"""``--include``/``--exclude`` are keyed by the sets they resolve to (the prunable weights and the
Hessian's tensors, in order), which is all the spectrum and ρ* read of them: a CI job's
``--include '*'`` on an MLP, whose Linear weights are all prunable by default, paid for the
spectrum again. Patterns that select another set still miss."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn


def _spectrum(cli, ckpt, *flags: str) -> dict:
    result = cli("spectrum", ckpt, "--max-samples", "300", "--threads", "1", "--json", *flags)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("flags", [("--include", "*"), ("--include", "0", "--include", "2")])
def test_patterns_selecting_the_default_sets_read_the_stored_spectrum(cli, own_ckpt, no_spectrum, flags):
    assert _spectrum(cli, own_ckpt)["timing"]["cached"] is False
    no_spectrum()
    again = _spectrum(cli, own_ckpt, *flags)
    assert again["timing"]["cached"] is True and again["timing"]["hvps"] == 0


def test_patterns_selecting_another_set_compute_again(cli, own_ckpt):
    assert _spectrum(cli, own_ckpt)["timing"]["cached"] is False
    assert _spectrum(cli, own_ckpt, "--exclude", "2")["timing"]["cached"] is False


class _Embedded(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb, self.norm, self.head = nn.Embedding(8, 4), nn.LayerNorm(4), nn.Linear(4, 3)

    def forward(self, x):
        return self.head(self.norm(self.emb(x)).mean(1))


@pytest.mark.parametrize("include", ["emb", "norm"])
def test_a_set_that_differs_in_either_part_keys_apart(include):
    """``emb`` widens the prunable set alone (its weight is in the Hessian by default), ``norm`` the
    Hessian alone (a LayerNorm holds no weight matrix): each is another result."""
    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key

    torch.manual_seed(0)
    data = (torch.randint(0, 8, (20, 5)), torch.randint(0, 3, (20,)))

    def key(**selection) -> str:
        return input_key(prunelimit.inputs_from(_Embedded(), data, **selection), "spectrum", CurvatureOptions())

    torch.manual_seed(1)
    default = key()
    torch.manual_seed(1)
    assert key(include=(include,)) != default
