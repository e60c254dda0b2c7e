"""A model spec is keyed by the arguments its factory was called with, not by their spelling: a
CI job that spells a default out (``models.py:make:hidden=4`` where 4 is ``make``'s default) or
gives its ``k=v`` in another order paid for the spectrum again. A value that differs, and what the
key cannot see the factory do with its arguments (``**kwargs``, a wrapper's own defaults), still miss."""

from __future__ import annotations

import json

import pytest

MODELS = '''
import functools

from torch import nn


def make(hidden: int = 4, scale: float = 1.0, act="relu"):
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def loose(**kw):
    return make(**kw)


def defaulting(fn):
    @functools.wraps(fn)  # shows fn's signature, passes a default of its own
    def call(**kw):
        kw.setdefault("scale", 2.0)
        return fn(**kw)
    return call


wrapped = defaulting(make)
'''


@pytest.fixture
def spectrum(cli, own_ckpt, tmp_path, monkeypatch):
    """``spectrum`` of the 310-parameter checkpoint built by ``--model SPEC`` (a ``models.py``
    factory, or prunelimit's own form): its ``timing`` (``hvps``, ``cached``)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models.py").write_text(MODELS)

    def run(spec: str) -> dict:
        result = cli("spectrum", own_ckpt, "--model", spec, "--max-samples", "300", "--threads", "1", "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)["timing"]

    return run


@pytest.mark.parametrize("first, second", [
    ("models.py:make", "models.py:make:hidden=4"),  # a default spelled out
    ("models.py:make", "models.py:make:hidden=4.0,scale=1,act=relu"),  # each as the call reads it
    ("models.py:make:hidden=4,scale=2.0", "models.py:make:scale=2.0:hidden=4"),  # another order
    ("mlp:64,4,10", "mlp:64,4.0,10"),
])
def test_a_spec_that_calls_the_factory_alike_reads_the_stored_spectrum(spectrum, no_spectrum, first, second):
    assert spectrum(first)["cached"] is False
    no_spectrum()
    again = spectrum(second)
    assert again["cached"] is True and again["hvps"] == 0


def test_another_value_computes_again(spectrum):
    assert spectrum("models.py:make")["cached"] is False
    assert spectrum("models.py:make:scale=2.0")["cached"] is False  # unused here: the key cannot tell


@pytest.mark.parametrize("first, second", [
    ("models.py:make", "models.py:make:act=1"),  # another type: the factory gets an int
    ("models.py:loose", "models.py:loose:hidden=4"),  # **kwargs: no default the key can see
    ("models.py:loose:hidden=4,scale=2.0", "models.py:loose:scale=2.0,hidden=4"),  # their order it may read
    ("models.py:wrapped", "models.py:wrapped:scale=1.0"),  # the signature shown is not the call's
])
def test_a_spec_that_may_call_the_factory_otherwise_keys_apart(tmp_path, monkeypatch, first, second):
    """Keyed apart (the key alone: the hit above shows it is what the cache reads)."""
    from prunelimit.cache import _keyed_spec
    from prunelimit.models.spec import build_model

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models.py").write_text(MODELS)
    build_model(first)  # the factory imported, as the command that keys it has
    assert _keyed_spec(first) != _keyed_spec(second)


def test_a_factory_this_process_did_not_import_keys_as_spelled(tmp_path, monkeypatch):
    """The key imports and runs no code: a factory not imported yet (an edited file) keys as given."""
    from prunelimit.cache import _keyed_spec

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models.py").write_text(MODELS + "\n# edited\n")
    assert _keyed_spec("models.py:make:hidden=4") == "models.py:make:hidden=4"
