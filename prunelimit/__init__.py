"""prunelimit: how far can a trained PyTorch network be pruned, proven and then done.

The library works on in-memory objects (``prunelimit.library``)::

    result = prunelimit.bounds(model, (x, y), loss=torch.nn.CrossEntropyLoss())
    result.ratio, result.lower, result.upper   # ρ*, ρ_L, ρ_U (removed fractions)
    prunelimit.prune(model, result.ratio).apply(model)

``prunelimit.train``, ``hyperflux``, ``imp`` and ``export`` (``prunelimit.library_training``)
train, prune and write the caller's model in place, as an optimiser would.
``prunelimit.api`` holds the same commands on loaded ``Inputs`` (what the CLI calls) and
their report dataclasses; docs/library.md shows every function with runnable examples.
``load_sparse(path)``: the dense state dict of a file written by ``prunelimit export``.

The names below, and the subpackages (``prunelimit.api``, …), are imported on first use:
``import prunelimit`` itself loads nothing, so
``python -m prunelimit`` reaches its Ctrl-C handling (``prunelimit.__main__``) before torch
starts importing.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Pruning": "prunelimit.library", "bounds": "prunelimit.library", "gate": "prunelimit.library",
    "info": "prunelimit.library", "inputs_from": "prunelimit.library",
    "nplh": "prunelimit.library", "prune": "prunelimit.library", "spectrum": "prunelimit.library",
    "verify": "prunelimit.library", "load_sparse": "prunelimit.sparse.sparse_file",
    "train": "prunelimit.library_training", "hyperflux": "prunelimit.library_training",
    "imp": "prunelimit.library_training", "export": "prunelimit.library_training",
    "error_law": "prunelimit.library_laws", "fit_error_law": "prunelimit.library_laws",
    "fit_nplh": "prunelimit.library_laws", "predict_error": "prunelimit.library_laws",
    "density_for_error": "prunelimit.library_laws",
}
__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # what a type checker reads for the names above (mypy took __getattr__'s Any for them)
    from prunelimit.library import Pruning as Pruning, bounds as bounds, gate as gate, info as info
    from prunelimit.library import inputs_from as inputs_from, nplh as nplh, prune as prune
    from prunelimit.library import spectrum as spectrum, verify as verify
    from prunelimit.library_laws import density_for_error as density_for_error, error_law as error_law
    from prunelimit.library_laws import fit_error_law as fit_error_law, fit_nplh as fit_nplh
    from prunelimit.library_laws import predict_error as predict_error
    from prunelimit.library_training import export as export, hyperflux as hyperflux, imp as imp, train as train
    from prunelimit.sparse.sparse_file import load_sparse as load_sparse


def __getattr__(name: str) -> Any:
    import importlib.util

    if name not in _EXPORTS:
        # a subpackage named after `import prunelimit` alone (prunelimit.api.BoundsReport), as an
        # import of it would give it: it was there only once a call had imported it
        if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
            return _imported(f"{__name__}.{name}")
        raise AttributeError(f"module 'prunelimit' has no attribute {name!r}")
    value = getattr(_imported(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def _imported(module: str):
    """``module`` imported, Python's ``random`` module left in the state the caller's seed
    put it: rich draws its ``Style`` ids from it as it is imported (``getrandbits(24)``), so
    after ``random.seed(0)`` the first ``prunelimit.bounds`` changed the caller's next draws."""
    import importlib
    import random

    state = random.getstate()
    try:
        return importlib.import_module(module)
    finally:
        random.setstate(state)


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
