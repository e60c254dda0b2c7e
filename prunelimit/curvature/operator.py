"""The curvature operator protocol: what Lanczos, SLQ, the trace and the exact Hessian take.

A ``CurvatureOperator`` is a symmetric D×D matrix known only through its products. It has
``shape`` ``(D, D)``, the ``dtype`` and ``device`` it computes in, and two products:

* ``matmat(V)``: ``H @ V`` for a D×k block of columns, the layout of
  ``scipy.sparse.linalg.LinearOperator`` and curvlinops. Lockstep Lanczos runs and the
  dense Hessian use it: one call serves k vectors (``HessianOperator`` walks its data once
  for all of them);
* ``matvec(v)``: ``H @ v`` for one vector. Part of the protocol, not derived from
  ``matmat``: an operator's single product may be cheaper than a batch of one and work
  where the batched one cannot (``HessianOperator.matvec`` is a plain second backward,
  its ``matmat`` a vmapped one); a single Lanczos run and the trace use it.

Both accept float tensors of any dtype on any device and return the product in the
input's dtype and device; the work happens in the operator's ``dtype`` on its ``device``.

``HessianOperator`` (``prunelimit.curvature.hvp``) is the mean-loss Hessian of a model;
``DenseOperator`` wraps an explicit matrix; ``Columnwise`` takes any operator's block
products one ``matvec`` at a time; ``as_scipy`` hands an operator to SciPy's solvers.
For example, the largest Hessian eigenvalue of a tiny network by ``eigsh``:

>>> import numpy as np
>>> import torch
>>> from scipy.sparse.linalg import eigsh
>>> from torch import nn
>>> from prunelimit.curvature import HessianOperator, as_scipy, exact_hessian
>>> from prunelimit.data.batches import cross_entropy_loss
>>> _ = torch.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).double()
>>> data = [(torch.randn(32, 4, dtype=torch.float64), torch.randint(0, 2, (32,)))]
>>> op = HessianOperator(model, list(model.parameters()), data, cross_entropy_loss)
>>> op.shape
(23, 23)
>>> top = eigsh(as_scipy(op), k=1, which="LA", v0=np.ones(23), return_eigenvectors=False)[0]
>>> dense = exact_hessian(op)  # the same operator as a D×D matrix, for comparison
>>> bool(abs(top - torch.linalg.eigvalsh(dense)[-1]) < 1e-8 * top)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from prunelimit.errors import UsageError

if TYPE_CHECKING:  # SciPy's sparse package costs ~0.4 s to import; only as_scipy needs it
    from scipy.sparse.linalg import LinearOperator


@runtime_checkable
class CurvatureOperator(Protocol):
    """A symmetric D×D operator known by its products (see the module doc)."""

    @property
    def shape(self) -> tuple[int, int]: ...

    @property
    def dtype(self) -> torch.dtype: ...

    @property
    def device(self) -> torch.device: ...

    def matvec(self, v: Tensor) -> Tensor:
        """``H @ v`` for a vector of length D, returned in ``v``'s dtype and device."""
        ...

    def matmat(self, V: Tensor) -> Tensor:
        """``H @ V`` for a D×k block of columns, returned in ``V``'s dtype and device."""
        ...


class DenseOperator:
    """An explicit symmetric matrix as a ``CurvatureOperator`` (products in its dtype and device).

    Symmetry is the caller's promise (Lanczos and ``as_scipy`` rely on it); it is not
    checked, so a matrix symmetric only to rounding is accepted as it is.
    """

    def __init__(self, matrix: Tensor) -> None:
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise UsageError(f"a dense operator needs a square matrix, got shape {tuple(matrix.shape)}")
        self.matrix = matrix
        self.shape = (matrix.shape[0], matrix.shape[1])
        self.dtype, self.device = matrix.dtype, matrix.device

    def matvec(self, v: Tensor) -> Tensor:
        return (self.matrix @ v.to(self.matrix)).to(v)

    def matmat(self, V: Tensor) -> Tensor:
        return (self.matrix @ V.to(self.matrix)).to(V)


class Columnwise:
    """``op`` with its block product taken one ``matvec`` per column.

    For an operator whose batched product does not pay, or to get exactly the numbers of
    single products: a lockstep group of Lanczos runs through ``Columnwise(op)`` is then bit
    for bit the runs one after another.
    """

    def __init__(self, op: CurvatureOperator) -> None:
        self.op = op
        self.shape, self.dtype, self.device = op.shape, op.dtype, op.device

    def matvec(self, v: Tensor) -> Tensor:
        return self.op.matvec(v)

    def matmat(self, V: Tensor) -> Tensor:
        # Contiguous columns: each product sees the same memory layout as a lone vector.
        return torch.stack([self.op.matvec(v) for v in V.T.contiguous()], dim=1)


def as_scipy(op: CurvatureOperator) -> LinearOperator:
    """``op`` as a float64 ``scipy.sparse.linalg.LinearOperator`` (for ``eigsh``, ``cg``, ...).

    NumPy float64 vectors and blocks go in and out; each is converted to the operator's
    dtype and device for the product. Symmetric, so the adjoint products are the products.
    """
    from scipy.sparse.linalg import LinearOperator

    def matvec(x: np.ndarray) -> np.ndarray:
        return _product(op, op.matvec, np.reshape(x, -1))

    def matmat(x: np.ndarray) -> np.ndarray:
        return _product(op, op.matmat, x)

    return LinearOperator(op.shape, matvec=matvec, rmatvec=matvec, matmat=matmat, rmatmat=matmat,
                          dtype=np.float64)


def _product(op: CurvatureOperator, product: Callable[[Tensor], Tensor], x: np.ndarray) -> np.ndarray:
    tensor = torch.from_numpy(np.array(x, dtype=np.float64))  # a copy: SciPy may pass read-only views
    return product(tensor.to(op.device, op.dtype)).to("cpu", torch.float64).numpy()
