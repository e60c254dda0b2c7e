"""A layer-collapse warning names the way out as its reader gives it: ``scope='layer'`` and
``exclude=`` in a library call's result, ``--scope layer`` and ``--exclude`` on the command
line (``theory.layers.collapse_warning``). A library call's warnings said the flags."""

from __future__ import annotations

from prunelimit.errors import library_call
from prunelimit.theory.layers import collapse_warning


def _advice(scope: str, ratio: float) -> str:
    """The advice in brackets at the end of the warning for a layer of 200 weights emptied."""
    return collapse_warning(ratio, "at ρ* = 90 %", "2.weight", 200, 1.0, scope).partition("the network (")[2]


def test_a_library_call_names_arguments_and_the_command_line_its_flags() -> None:
    with library_call():
        library = [_advice("global", 0.9), _advice("global", 0.999), _advice("2:4", 0.5), _advice("layer", 0.999)]
    assert library == ["prune layer-wise: scope='layer')",
                       "layer-wise pruning, ceil(ρ·n) of its n weights, empties it too: leave it out with exclude=, "
                       "or prune less)",
                       "leave it out with exclude=)",
                       "on the layer-wise path each layer loses ceil(ρ·n) of its n weights: leave it out with exclude=, "
                       "or prune less)"]
    assert [_advice("global", 0.9), _advice("2:4", 0.5)] == ["prune layer-wise: --scope layer)",
                                                             "leave it out with --exclude)"]
