"""The laws' fits as ``import prunelimit`` offers them: ``fit_nplh``, ``fit_error_law``,
``error_law``, ``predict_error`` (``errorlaw.predict``) and ``density_for_error`` are the
functions of :mod:`prunelimit.laws` run as library calls
(:func:`prunelimit.library.library_call`), so that their messages name keyword arguments
(``joint=True``) where the command line's name its flags (``--joint``)."""

from prunelimit.laws import errorlaw, nplh
from prunelimit.library import library_call, with_arguments

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

fit_nplh = with_arguments(library_call(nplh.fit_nplh), _ARGUMENTS["fit_nplh"])
fit_error_law = with_arguments(library_call(errorlaw.fit_error_law), _ARGUMENTS["fit_error_law"])
error_law = with_arguments(library_call(errorlaw.error_law), _ARGUMENTS["error_law"])
predict_error = with_arguments(library_call(errorlaw.predict), _ARGUMENTS["predict_error"])
density_for_error = with_arguments(library_call(errorlaw.density_for_error), _ARGUMENTS["density_for_error"])
