"""The cache's tests check what a result is keyed by, not the spectrum: their checkpoint is
the 310-parameter ``SMALL_SPEC`` model, whose default exact spectrum (formed in each of a
test's two or three runs) takes a third of the columns of the 938-parameter one. Model code in
these tests builds the same layers: ``Linear(64, 4)``, ``Linear(4, 10)``."""

from __future__ import annotations

import pytest


@pytest.fixture
def tiny_model(small_model):
    return small_model


@pytest.fixture
def own_ckpt(small_ckpt):
    return small_ckpt


@pytest.fixture
def searches(monkeypatch):
    """The actual-limit searches run so far (each call of ``pruning.actual.actual_limit``)."""
    import prunelimit.pruning.actual as actual_module

    calls = []
    search = actual_module.actual_limit

    def counted(*args, **kwargs):
        calls.append(kwargs.get("epsilon", args[3] if len(args) > 3 else None))
        return search(*args, **kwargs)

    monkeypatch.setattr(actual_module, "actual_limit", counted)
    return calls


@pytest.fixture
def no_spectrum(monkeypatch):
    """After it is called, any spectrum computation fails the test."""
    from prunelimit.api import curvature as curvature_api

    def forbidden(*args, **kwargs):
        raise AssertionError("the spectrum was recomputed")

    return lambda: monkeypatch.setattr(curvature_api, "spectrum", forbidden)


@pytest.fixture
def no_blocks(monkeypatch):
    """After it is called, computing any ``--per-layer`` block fails the test."""
    from prunelimit.curvature import layers

    def forbidden(*args, **kwargs):
        raise AssertionError("the blocks were recomputed")

    def forbid() -> None:
        for name in ("formed_block_curvature", "lanczos_block_curvature", "exact_block_curvature"):
            monkeypatch.setattr(layers, name, forbidden)

    return forbid


@pytest.fixture
def site_folder(tmp_path, monkeypatch):
    """A site-packages folder on ``sys.path`` that the key takes for installed code (a package
    ``test_cache._install`` puts there counts by its distribution, as pip's would)."""
    from prunelimit import cache

    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    installed = cache._installed_folders()
    monkeypatch.setattr(cache, "_installed_folders", lambda: (*installed, str(site.resolve())))
    cache._installed_code.cache_clear()  # it remembers which files are installed
    yield site
    cache._installed_code.cache_clear()


@pytest.fixture(scope="module")
def fitted_inputs():
    """A 12-unit digits MLP fitted on 300 samples (the products' error then is a 128-sample
    slice's, ``slice_error``), as library inputs of batches of 50."""
    import prunelimit
    from tests.api.test_measured_slice import _fitted

    model, data = _fitted(300, 12)
    return prunelimit.inputs_from(model, data, batch_size=50)

