"""Curvature: exact HVPs, Lanczos, SLQ spectra, exact Hessians and trace estimates."""

from prunelimit.curvature.exact import exact_hessian, exact_quadrature
from prunelimit.curvature.hvp import HessianOperator
from prunelimit.curvature.lanczos import LanczosResult, lanczos, ritz
from prunelimit.curvature.quadrature import SpectralQuadrature
from prunelimit.curvature.slq import extreme_eigenvalues, slq
from prunelimit.curvature.trace import TraceEstimate, hutchinson_trace

__all__ = [
    "HessianOperator",
    "LanczosResult",
    "SpectralQuadrature",
    "TraceEstimate",
    "exact_hessian",
    "exact_quadrature",
    "extreme_eigenvalues",
    "hutchinson_trace",
    "lanczos",
    "ritz",
    "slq",
]
