"""The laws' fits as ``import prunelimit`` offers them: ``fit_nplh``, ``fit_error_law``,
``error_law``, ``predict_error`` (``errorlaw.predict``) and ``density_for_error`` are the
functions of :mod:`prunelimit.laws` run as library calls
(:func:`prunelimit.library.library_call`), so that their messages name keyword arguments
(``joint=True``) where the command line's name its flags (``--joint``)."""

from prunelimit.laws import errorlaw, nplh
from prunelimit.library import library_call

fit_nplh = library_call(nplh.fit_nplh)
fit_error_law = library_call(errorlaw.fit_error_law)
error_law = library_call(errorlaw.error_law)
predict_error = library_call(errorlaw.predict)
density_for_error = library_call(errorlaw.density_for_error)
