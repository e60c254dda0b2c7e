"""Curvature: exact HVPs, Lanczos, SLQ spectra, exact Hessians and trace estimates.

Everything here takes a ``CurvatureOperator`` (``prunelimit.curvature.operator``):
``HessianOperator`` for a model's mean-loss Hessian, ``DenseOperator`` for an explicit
matrix; ``as_scipy`` hands one to SciPy's solvers (``eigsh``).
"""

from prunelimit.curvature.exact import exact_hessian, exact_quadrature
from prunelimit.curvature.hvp import HessianOperator
from prunelimit.curvature.lanczos import LanczosResult, lanczos, ritz
from prunelimit.curvature.operator import Columnwise, CurvatureOperator, DenseOperator, as_scipy
from prunelimit.curvature.quadrature import SpectralQuadrature
from prunelimit.curvature.slq import extreme_eigenvalues, slq
from prunelimit.curvature.trace import TraceEstimate, hutchinson_trace

__all__ = [
    "Columnwise",
    "CurvatureOperator",
    "DenseOperator",
    "HessianOperator",
    "LanczosResult",
    "SpectralQuadrature",
    "TraceEstimate",
    "as_scipy",
    "exact_hessian",
    "exact_quadrature",
    "extreme_eigenvalues",
    "hutchinson_trace",
    "lanczos",
    "ritz",
    "slq",
]
