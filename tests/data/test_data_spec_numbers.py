"""Counts inside a data spec (``synthetic:samples=…``, ``imagefolder:…:size=N``) are read as a
count option reads them (validate.read_count): a whole number in any notation, else a
``UsageError`` naming the key and what to write; a number split at a comma is refused."""

from __future__ import annotations

import re

import pytest

from prunelimit.data.spec import load_dataset
from prunelimit.errors import UsageError


@pytest.mark.parametrize("samples", ["1e2", "100.0", "1.0e2"])
def test_a_synthetic_count_takes_a_whole_number_in_any_notation(samples):
    assert len(load_dataset(f"synthetic:samples={samples},features=4")) == 100


def test_a_shape_takes_whole_numbers_in_any_notation():
    """``int('8.0')`` refused the shape as "sizes must be integers"."""
    assert tuple(load_dataset("synthetic:samples=4,shape=1x8.0x8e0").x.shape) == (4, 1, 8, 8)


@pytest.mark.parametrize(("spec", "message"), [
    # int() cut these in silence: 100 samples, 8 features, seed 1
    ("synthetic:samples=100.5", "samples: must be an integer, got '100.5'; write 100 or 101"),
    ("synthetic:features=8.7", "features: must be an integer, got '8.7'; write 8 or 9"),
    ("synthetic:seed=1.5", "seed: must be an integer, got '1.5'; write 1 or 2"),
    # int(True) is 1: one sample
    ("synthetic:samples=true", "samples: got 'true', not a number"),
    # int() took Python's 1_00
    ("synthetic:samples=1_00", "samples: got '1_00', not a number (write it without separators: 100)"),
    ("synthetic:shape=1xx8", "shape (like 3x32x32): got '', not a number"),
    # the comma split the part, no k=v list then, which synthetic ignored: 512 samples
    ("synthetic:samples=1,000",
     "samples=1,000 holds a comma, which separates k=v items: a value is one number (a comma is no decimal point "
     "here, nor a thousands separator: write 1.000 or 1000)"),
    ("synthetic:samples=10,seed=0,5", "seed=0,5 holds a comma, which separates k=v items: a value is one number "
                                      "(a comma is no decimal point here, nor a thousands separator: write 0.5)"),
    ("synthetic:1000", "'1000' is no k=v option; synthetic takes samples=..., features=..., classes=..., seed=..., "
                       "shape=..."),
])
def test_a_count_in_a_data_spec_that_is_no_whole_number_is_refused_naming_it(spec, message):
    with pytest.raises(UsageError, match=f"^bad data spec '{re.escape(spec)}': {re.escape(message)}$"):
        load_dataset(spec)


def test_a_huge_count_is_read_exactly_not_as_a_float():
    """``1e30`` was read as the float 1e30: the cap's message showed 64,000,000,000,000,001,272,615,989,673,984."""
    with pytest.raises(UsageError, match="64,000,000,000,000,000,000,000,000,000,000 values, over the cap"):
        load_dataset("synthetic:samples=1e30")


def test_an_image_size_that_is_no_whole_number_is_refused_naming_it(tmp_path):
    """``size=true`` was taken as 1 (1×1 images); refused before torchvision is needed."""
    with pytest.raises(UsageError, match=r"size: got 'true', not a number$"):
        load_dataset(f"imagefolder:{tmp_path}:size=true")
    with pytest.raises(UsageError, match=r"size: must be an integer, got '7.5'; write 7 or 8$"):
        load_dataset(f"imagefolder:{tmp_path}:size=7.5")


def test_an_image_size_takes_a_whole_number_in_any_notation(tmp_path):
    """``size=8.0`` was refused ("size must be an integer in [1, 4096]")."""
    pytest.importorskip("torchvision")
    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        Image.new("RGB", (5, 5), color=(10, 20, 30)).save(tmp_path / label / "0.png")
    assert tuple(load_dataset(f"imagefolder:{tmp_path}:size=8.0").x.shape) == (2, 3, 8, 8)


@pytest.mark.parametrize("key", ["max_samples", "max-samples", "samples"])
def test_a_sample_count_in_a_spec_that_takes_none_names_the_option_that_keeps_the_first_n(key):
    """``digits:train:max_samples=100`` was told only that digits takes ``image=...``."""
    spec = f"digits:train:{key}=100"
    with pytest.raises(UsageError, match=f"^bad data spec '{spec}': unknown key '{key}'; digits takes image=...; "
                                         "to keep the first N samples, pass --max-samples N$"):
        load_dataset(spec)


def test_shape_and_features_together_are_refused():
    """``features=10`` beside a shape was ignored in silence: 3×4×4 inputs, 48 values a sample."""
    spec = "synthetic:shape=3x4x4,features=10"
    with pytest.raises(UsageError, match=f"^bad data spec '{spec}': shape and features both set the input's size; "
                                         r"give one \(features=F: F values a sample, shape=CxHxW: images\)$"):
        load_dataset(spec)
