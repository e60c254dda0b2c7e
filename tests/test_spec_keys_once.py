"""A spec's ``k=v`` key is given once: the later value won in silence, where a --config key
given twice is refused."""

from __future__ import annotations

import re

import pytest

from prunelimit.errors import UsageError
from prunelimit.specs import parse_spec


@pytest.mark.parametrize(("text", "key", "values"), [
    ("synthetic:samples=100,samples=200", "samples", "100 and 200"),  # 200 samples
    ("synthetic:samples=100:samples=200", "samples", "100 and 200"),
    ("digits:image=1:train:image=0", "image", "1 and 0"),  # no images
    ("lenet300:num_classes=10, num_classes =3", "num_classes", "10 and 3"),
])
def test_a_key_given_twice_is_refused_naming_both_values(text, key, values):
    with pytest.raises(UsageError, match=f"^bad data spec {re.escape(repr(text))}: {key} is given twice "
                                         f"\\({values}\\); write it once$"):
        parse_spec(text, "data")


def test_the_values_as_written_are_kept_beside_the_parsed_ones():
    spec = parse_spec("synthetic:samples=1e3,seed= 010 ,name=x", "data")
    assert spec.kwargs == {"samples": 1000.0, "seed": 10, "name": "x"}
    assert spec.written == {"samples": "1e3", "seed": "010", "name": "x"}
