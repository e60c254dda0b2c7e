"""prunelimit: how far can a trained PyTorch network be pruned, proven and then done.

``load_sparse(path)``: the dense state dict of a file written by ``prunelimit export``.
"""

__version__ = "0.1.0"

from prunelimit.export.sparse_file import load_sparse  # noqa: E402

__all__ = ["__version__", "load_sparse"]
