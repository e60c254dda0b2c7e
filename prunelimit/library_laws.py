"""The laws' fits as ``import prunelimit`` offers them: ``fit_nplh``, ``fit_error_law``,
``error_law``, ``predict_error`` (``errorlaw.predict``) and ``density_for_error`` are the
functions of :mod:`prunelimit.laws` run as library calls
(:func:`prunelimit.library.library_call`), so that their messages name keyword arguments
(``joint=True``) where the command line's name its flags (``--joint``); the two queries warn
(``UserWarning``) of an answer ``extrapolate=True`` gave beyond the fit's range, as the command
line's ``warnings`` name it."""

import functools
import inspect
import warnings
from typing import Callable

from prunelimit.laws import errorlaw, nplh
from prunelimit.library import library_call

fit_nplh = library_call(nplh.fit_nplh)
fit_error_law = library_call(errorlaw.fit_error_law)
error_law = library_call(errorlaw.error_law)


def _warned(query: Callable[..., float], density_of: Callable[[tuple, float], float]) -> Callable[..., float]:
    """``query`` as a library call that warns (``UserWarning``, the command line's ``warnings``) when
    ``extrapolate`` gave an answer beyond what the fit measured; ``density_of(arguments, answer)``."""
    call = library_call(query)

    @functools.wraps(query)
    def answer(*args, **kwargs) -> float:
        value = call(*args, **kwargs)
        bound = inspect.signature(query).bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        warning = errorlaw.extrapolated(a["fit"], density_of(a, value), a["width"], a["depth"])
        if warning:
            warnings.warn(warning, stacklevel=2)
        return value

    return answer


predict_error = _warned(errorlaw.predict, lambda a, _: a["density"])
density_for_error = _warned(errorlaw.density_for_error, lambda _, density: density)
