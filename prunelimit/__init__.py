"""prunelimit: how far can a trained PyTorch network be pruned, proven and then done.

The library works on in-memory objects (``prunelimit.library``)::

    result = prunelimit.bounds(model, (x, y), loss=torch.nn.CrossEntropyLoss())
    result.ratio, result.lower, result.upper   # ρ*, ρ_L, ρ_U (removed fractions)
    prunelimit.prune(model, result.ratio).apply(model)

``prunelimit.api`` holds the same commands on loaded ``Inputs`` (what the CLI calls) and
their report dataclasses; docs/library.md shows every function with runnable examples.
``load_sparse(path)``: the dense state dict of a file written by ``prunelimit export``.
"""

__version__ = "0.1.0"

from prunelimit.export.sparse_file import load_sparse  # noqa: E402
from prunelimit.laws.errorlaw import error_law, fit_error_law  # noqa: E402
from prunelimit.laws.nplh import fit_nplh  # noqa: E402
from prunelimit.library import Pruning, bounds, inputs_from, nplh, prune, spectrum, verify  # noqa: E402

__all__ = ["Pruning", "__version__", "bounds", "error_law", "fit_error_law", "fit_nplh", "inputs_from", "load_sparse",
           "nplh", "prune", "spectrum", "verify"]
