"""Exception types, each mapped to the exit code of SPEC §4."""

from __future__ import annotations


class PrunelimitError(Exception):
    """Base error: a short message naming the input and the fix; carries its exit code."""

    exit_code = 2


class UsageError(PrunelimitError):
    """Bad option, spec string or configuration (exit 2)."""

    exit_code = 2


class InputError(PrunelimitError):
    """A checkpoint, model or data set could not be loaded (exit 3)."""

    exit_code = 3


class NumericalError(PrunelimitError):
    """NaN/Inf, breakdown or no convergence (exit 4)."""

    exit_code = 4


class GateFailed(PrunelimitError):
    """A CI gate rule failed (exit 1)."""

    exit_code = 1
