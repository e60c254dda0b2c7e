"""Numbers inside a model spec are read as a count option reads them (validate.read_count):
an mlp size or an ``int`` override takes a whole number in any notation, and anything else is
a ``UsageError`` naming the size and what to write."""

from __future__ import annotations

import pytest
from torch import nn

from prunelimit.errors import UsageError
from prunelimit.models.spec import build_model


def _shapes(spec: str) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in build_model(spec, device="meta").parameters()]


@pytest.mark.parametrize("size", ["3e2", "300.0", "3.00e2", "+300", " 300"])
def test_an_mlp_size_takes_a_whole_number_in_any_notation(size):
    """``int()`` refused ``3e2`` and ``300.0`` ("mlp sizes must be integers"), which --max-hvps takes."""
    assert _shapes(f"mlp:64,{size},10") == _shapes("mlp:64,300,10")


@pytest.mark.parametrize(("spec", "message"), [
    ("mlp:64,300.5,10", "mlp sizes must be integers; size 2: must be an integer, got '300.5'; write 300 or 301"),
    # int() took Python's 1_000, which no other number reader takes
    ("mlp:64,1_000,10", "mlp sizes must be integers; size 2: got '1_000', not a number (write it without separators: 1000)"),
    ("mlp:64,,10", "mlp sizes must be integers; size 2: got '', not a number"),
    ("mlp:64,10,", "mlp sizes must be integers; size 3: got '', not a number"),
    ("mlp:64,-3,10", "mlp needs ≥ 2 positive sizes, got -3"),
])
def test_an_mlp_size_that_is_no_whole_number_is_refused_naming_it(spec, message):
    with pytest.raises(UsageError, match=f"^bad model spec '{spec}': {_escaped(message)}$"):
        build_model(spec)


def test_an_int_override_takes_a_whole_number_in_any_notation():
    """``num_classes=1e1`` reached torch as 10.0: "empty(): argument 'size' … must be tuple of ints"."""
    assert _shapes("lenet300:num_classes=1e1") == _shapes("lenet300:num_classes=10")
    assert _shapes("resnet18-cifar:width=8.0,num_classes=1e1") == _shapes("resnet18-cifar:width=8,num_classes=10")


@pytest.mark.parametrize(("value", "message"), [
    ("10.5", "num_classes: must be an integer, got '10.5'; write 10 or 11"),
    ("true", "num_classes: got 'true', not a number"),  # int(True) is 1
    ("1_0", "num_classes: got '1_0', not a number (write it without separators: 10)"),
])
def test_an_int_override_that_is_no_whole_number_is_refused_naming_it(value, message):
    spec = f"lenet300:num_classes={value}"
    with pytest.raises(UsageError, match=f"^bad model spec '{spec}': {_escaped(message)}$"):
        build_model(spec)


_FACTORY = ("from typing import Optional\n"
            "from torch import nn\n"
            "seen = {}\n"
            "def make(width: int = 8, scale: float = 1.0, depth: Optional[int] = None, other=0):\n"
            "    seen.update(width=width, scale=scale, depth=depth, other=other)\n"
            "    return nn.Linear(4, width)\n")


def _seen(name: str) -> dict:
    import sys

    return next(m.seen for key, m in sys.modules.items() if key.startswith("_prunelimit_user_")
                and getattr(m, "__file__", "").endswith(name))


def test_a_factorys_number_parameters_get_numbers_read_as_options_read_them(tmp_path):
    """A user's factory annotates what it takes: ``width: int`` gets 16 for ``1.6e1`` (it got
    16.0, and nn.Linear failed: exit 3), ``Optional[int]`` 2 for ``2.0``, ``float`` a float;
    an unannotated parameter keeps the value the spec's parser made."""
    (tmp_path / "user_counts.py").write_text(_FACTORY)
    model = build_model(f"{tmp_path / 'user_counts.py'}:make:width=1.6e1,scale=2,depth=2.0,other=3.0")
    assert isinstance(model, nn.Linear) and model.out_features == 16
    seen = _seen("user_counts.py")
    assert seen == {"width": 16, "scale": 2.0, "depth": 2, "other": 3.0}
    assert [type(seen[k]) for k in ("width", "scale", "depth", "other")] == [int, float, int, float]


@pytest.mark.parametrize(("kv", "message"), [
    # nn.Linear refused 1.5: "model factory … failed: TypeError: empty() …", exit 3, the spec not named
    ("width=1.5", "width: must be an integer, got '1.5'; write 1 or 2"),
    ("depth=2.5", "depth: must be an integer, got '2.5'; write 2 or 3"),
    # the factory got the text '1_0'
    ("scale=1_0", "scale: got '1_0', not a number (write it without separators: 10)"),
])
def test_a_factorys_number_parameter_given_no_such_number_is_a_spec_error(tmp_path, kv, message):
    (tmp_path / "user_refused.py").write_text(_FACTORY)
    spec = f"{tmp_path / 'user_refused.py'}:make:{kv}"
    with pytest.raises(UsageError, match=f"^bad model spec {_escaped(repr(spec))}: {_escaped(message)}$"):
        build_model(spec)


def test_a_factory_whose_annotations_name_a_type_checkers_import_still_gets_a_count(tmp_path):
    """One annotation naming a ``TYPE_CHECKING`` import cannot be resolved: the others were then
    not read at all (``width=1e1`` reached nn.Linear as 10.0, exit 3); they are read as written."""
    (tmp_path / "user_checked.py").write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from torch import nn\n"
        "if TYPE_CHECKING:\n"
        "    from collections import OrderedDict as Config\n"
        "def make(width: int = 8, config: Config | None = None):\n"
        "    return nn.Linear(4, width)\n")
    assert build_model(f"{tmp_path / 'user_checked.py'}:make:width=1e1").out_features == 10


def _escaped(text: str) -> str:
    import re

    return re.escape(text)
