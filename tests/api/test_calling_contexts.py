"""Where a notebook or a service calls from: a session set to float64 defaults or to
deterministic algorithms, grad mode switched off by ``set_grad_enabled(False)`` or on again by
``enable_grad()`` inside ``no_grad()``, a thread other than the main one, a ``DataLoader`` with
worker processes, a ``spawn`` process pool. Each call gives the numbers it gives in a plain
session, to the bit (the same kernels in the same order, seen), and leaves the setting as it
found it (docs/library.md). ``tests/test_library_caller_state.py`` holds ``no_grad``,
``inference_mode``, ``autocast`` and thread pools."""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
from collections.abc import Iterator

import pytest
import torch

import prunelimit
from tests.conftest import LIBRARY_SAMPLES, SPEC, build_model
from tests.test_library_caller_state import CALLS


def _plain_session() -> tuple[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """The ``model`` and ``train`` fixtures' model and data, for results computed once a module."""
    from prunelimit.data.spec import load_dataset

    torch.manual_seed(0)
    data = load_dataset("digits:train", max_samples=LIBRARY_SAMPLES)
    return build_model(SPEC), (data.x, data.y)


@functools.cache
def _expected(name: str) -> float:
    return CALLS[name](*_plain_session())


@functools.cache
def _bounds() -> prunelimit.api.BoundsReport:
    """The exact spectrum's bounds over batches of 100, the loader's below."""
    return prunelimit.bounds(*_plain_session(), batch_size=100, method="exact")


@contextlib.contextmanager
def _float64_default() -> Iterator[None]:
    torch.set_default_dtype(torch.float64)
    try:
        yield
        assert torch.get_default_dtype() == torch.float64
    finally:
        torch.set_default_dtype(torch.float32)


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    torch.use_deterministic_algorithms(True)
    try:
        yield
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


@contextlib.contextmanager
def _grad_disabled() -> Iterator[None]:
    with torch.set_grad_enabled(False):
        yield
        assert not torch.is_grad_enabled()


@contextlib.contextmanager
def _grad_enabled_within_no_grad() -> Iterator[None]:
    with torch.no_grad(), torch.enable_grad():
        yield
        assert torch.is_grad_enabled()


SESSIONS = {"float64_default": _float64_default, "deterministic": _deterministic,
            "set_grad_enabled_false": _grad_disabled, "enable_grad_in_no_grad": _grad_enabled_within_no_grad}


@pytest.mark.parametrize("session", SESSIONS)
@pytest.mark.parametrize("name", ["bounds", "train"])
def test_a_call_in_a_set_session_computes_what_it_computes_in_a_plain_one(model, train, name, session):
    """A float32 model in a float64-default session keeps float32 (the curvature, SGD's state);
    deterministic algorithms change no CPU kernel the call runs."""
    with SESSIONS[session]():
        found = CALLS[name](copy.deepcopy(model), train)
    assert found == _expected(name)


def test_a_call_off_the_main_thread_computes_what_it_computes_on_it(model, train):
    """A web service's worker thread: nothing a call does needs the main thread (a signal
    handler raises ValueError off it)."""
    found: list[float] = []
    worker = threading.Thread(target=lambda: found.append(CALLS["verify"](model, train)))
    worker.start()
    worker.join()
    assert found == [_expected("verify")]


def test_a_loader_with_worker_processes_is_read_as_any_other(model, train):
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*train), batch_size=100, num_workers=2)
    found, expected = prunelimit.bounds(model, loader, method="exact"), _bounds()
    assert (found.ratio, found.epsilon, found.spectrum.lambda_max) == \
        (expected.ratio, expected.epsilon, expected.spectrum.lambda_max)


def test_a_call_in_a_spawn_process_pool_returns_what_it_returns_here(model, train):
    """The function, its arguments and its result pickle; the child process (one thread:
    OMP_NUM_THREADS=1, as here) gives the same ratio, ε and λmax (its timings differ)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        found = pool.submit(prunelimit.bounds, model, train, batch_size=100, method="exact").result()
    expected = _bounds()
    assert (found.ratio, found.epsilon, found.spectrum.lambda_max) == \
        (expected.ratio, expected.epsilon, expected.spectrum.lambda_max)
