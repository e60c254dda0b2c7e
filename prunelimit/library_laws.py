"""The laws' fits as ``import prunelimit`` offers them: ``fit_nplh``, ``fit_error_law``,
``error_law``, ``predict_error`` (``errorlaw.predict``) and ``density_for_error`` are the
functions of :mod:`prunelimit.laws` run as library calls
(:func:`prunelimit.library.library_call`), so that their messages name keyword arguments
(``joint=True``) where the command line's name its flags (``--joint``); the two queries warn
(``UserWarning``) of an answer ``extrapolate=True`` gave beyond the fit's range, as the command
line's ``warnings`` name it."""

import functools
import inspect
from typing import Callable, cast

from prunelimit import validate
from prunelimit.errors import OptionError, UsageError, quoted, warn
from prunelimit.laws import errorlaw, nplh
from prunelimit.library import Command, library_call, with_arguments

# What help() says of the arguments the laws' own docstrings do not name
_FIT = {"fit": "an ``ErrorLawFit``, as ``fit_error_law`` returns it.",
        "width": "the network's width, for a joint law's query (default ``None``; both or neither).",
        "depth": "the network's depth, for a joint law's query (default ``None``).",
        "eps_np": "the unpruned network's error, a fraction (default ``None``: the fitted one, of the "
                  "configuration ``width`` × ``depth`` for a joint law)."}
_ARGUMENTS = {
    "fit_nplh": {"points": "``LawPoints`` (``prunelimit.laws.points``: ``LawPoints.from_arrays(density, gamma)``), "
                           "or an NPLH result's ``points``.",
                 "n_boot": "bootstrap resamples behind ``alpha0_ci`` and ``c_ci`` (default 1000).",
                 "seed": "seed of the bootstrap (default 0).",
                 "confidence": "level of ``alpha0_ci`` and ``c_ci`` (default 0.95)."},
    "fit_error_law": {"points": "``ErrorPoints(density, error)`` (``prunelimit.laws.errorlaw``; fractions), or "
                                "``ImpResult.points()``.",
                      "seed": "seed of the random starts (default 0).",
                      "random_starts": "random starts of the least squares besides the first (default 8)."},
    "error_law": {"density": "a density or an array of densities, fractions in (0, ∞)."},
    "predict_error": _FIT,
    "density_for_error": _FIT,
}


def _checked_query(query: Command, value: str, name: str) -> Command:
    """``query(fit, value, …)`` (``predict``, ``density_for_error``) as ``import prunelimit``'s
    ``name``, that first refuses, naming it, a ``fit`` that is no ``ErrorLawFit``, a ``value``,
    ``width``, ``depth`` or ``eps_np`` that is no number and an ``extrapolate`` that is no bool:
    the command line gives them parsed, a caller as it holds them (an AttributeError or a
    TypeError deep in the query, or ``extrapolate="no"`` taken as true)."""
    signature = inspect.signature(query)

    @functools.wraps(query)
    def checked(*args, **kwargs):
        given = signature.bind(*args, **kwargs).arguments
        fit = given.get("fit")
        if not isinstance(fit, errorlaw.ErrorLawFit):
            raise UsageError(f"fit must be an ErrorLawFit, as prunelimit.fit_error_law returns it, "
                             f"got {type(fit).__name__}")
        for name in (value, "width", "depth", "eps_np"):
            number = given.get(name)
            if (name == value or number is not None) and not validate.real(number):
                raise OptionError(name, f"{{0}} must be a number, got {quoted(number)}{validate.not_a_number(number)}")
        validate.boolean("extrapolate", given.get("extrapolate", False))
        return query(*args, **kwargs)
    # the name a refused call and help() give: predict_error's was errorlaw's "predict", and a call
    # left short was told to make prunelimit.predict(fit, density), which the package lacks
    checked.__name__ = checked.__qualname__ = name
    return cast(Command, checked)


def _warned(query: Command, density_of: Callable[[tuple, float], float]) -> Command:
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
            warn(warning, stacklevel=2)
        return value

    return cast(Command, answer)


fit_nplh = with_arguments(library_call(nplh.fit_nplh), _ARGUMENTS["fit_nplh"])
fit_error_law = with_arguments(library_call(errorlaw.fit_error_law), _ARGUMENTS["fit_error_law"])
error_law = with_arguments(library_call(errorlaw.error_law), _ARGUMENTS["error_law"])
predict_error = with_arguments(_warned(_checked_query(errorlaw.predict, "density", "predict_error"),
                                       lambda a, _: a["density"]), _ARGUMENTS["predict_error"])
density_for_error = with_arguments(_warned(_checked_query(errorlaw.density_for_error, "target_error",
                                                          "density_for_error"),
                                           lambda _, density: density), _ARGUMENTS["density_for_error"])
