"""The spectrum-family coverage benchmark's fast basis (docs/accuracy.md, "Coverage by
spectrum family"): ``--dct-basis`` states the family's own spectrum in a delocalised
orthonormal basis, as the dense random basis does at D where that one would not fit."""

from __future__ import annotations

import numpy as np
import torch

from tests.conftest import benchmark_module


def test_the_dct_basis_operator_has_the_familys_spectrum_in_a_delocalised_basis() -> None:
    bench = benchmark_module("coverage_spectra")
    rng = np.random.default_rng(0)
    lam = bench.spectrum("saddle", 64, rng)
    op = bench.DctBasisOperator(lam, rng)
    matrix = op.matmat(torch.eye(64, dtype=torch.float64)).numpy()
    # float64 orthonormal transforms: symmetric and the spectrum to rounding (1e-12, far above ~1e-15)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(matrix), np.sort(lam), atol=1e-12)
    _, vectors = np.linalg.eigh(matrix)
    # no eigenvector sits on a few coordinates (a diagonal basis would: Rademacher probes then have no variance)
    assert np.abs(vectors).max() < 0.5
    np.testing.assert_allclose(op.matvec(torch.ones(64, dtype=torch.float64)).numpy(), matrix.sum(axis=1), atol=1e-12)
