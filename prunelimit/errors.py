"""Exception types, each mapped to its documented exit code (README, docs/guide.md)."""

from __future__ import annotations


class PrunelimitError(Exception):
    """Base error: a short message naming the input and the fix; carries its exit code."""

    exit_code = 2


class UsageError(PrunelimitError, ValueError):
    """Bad option, spec string or configuration (exit 2); a ``ValueError`` for library callers."""

    exit_code = 2


class OptionError(UsageError):
    """An invalid value of one named option.

    ``template`` holds ``{0}`` wherever the option's name goes, so the message names the
    parameter to a library caller and the command line can put its flag there instead.
    """

    def __init__(self, option: str, template: str):
        super().__init__(template.format(option))
        self.option = option
        self.template = template

    def named(self, name: str) -> str:
        """The message with ``name`` (e.g. a command-line flag) for the option."""
        return self.template.format(name)


class InputError(PrunelimitError):
    """A checkpoint, model or data set could not be loaded (exit 3)."""

    exit_code = 3


class NumericalError(PrunelimitError):
    """NaN/Inf, breakdown or no convergence (exit 4)."""

    exit_code = 4


class GateFailed(PrunelimitError):
    """A CI gate rule failed (exit 1)."""

    exit_code = 1
