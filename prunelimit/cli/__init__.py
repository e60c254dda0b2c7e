"""The ``prunelimit`` command line: parse options, call ``prunelimit.api``, print.

One module a command family, each beside what it calls: ``limit`` (info, spectrum,
bounds, verify, gate), ``pruning`` (train, prune, export), ``laws`` (law nplh/nplh-fit/
error-fit, imp, hyperflux); ``common`` holds the typer app, the shared option types, the
error handling behind the exit codes and the output helpers. Importing the modules
registers their commands, in the order ``--help`` lists them.
"""

from prunelimit.cli import limit, pruning, laws  # noqa: F401  (registers the commands)
from prunelimit.cli.common import _exit_interrupted, app, refusing_launch
from prunelimit.cli.laws import hyperflux, imp, law_error_fit, law_nplh, law_nplh_fit
from prunelimit.cli.limit import bounds, gate, info, spectrum, verify
from prunelimit.cli.pruning import export, prune, train
from prunelimit.io.atomic import install_signal_handlers

__all__ = ["app", "bounds", "export", "gate", "hyperflux", "imp", "info", "law_error_fit", "law_nplh", "law_nplh_fit",
           "main", "prune", "spectrum", "train", "verify"]


def main() -> None:
    from prunelimit.distributed import launch_refused, launched

    install_signal_handlers()  # SIGTERM cleans up like Ctrl-C (exit 143, no temporary file left)
    refused = launch_refused()  # torchrun's variables set wrongly: no group to join
    # the command ends in it once its options are read, as in their checks' errors (gate --junit's report)
    run = launched() if refused is None else refusing_launch(refused)
    try:
        with run:  # under torchrun: join the process group; only rank 0 prints and writes
            app()
    except KeyboardInterrupt as exc:  # a signal while joining or leaving the process group
        _exit_interrupted(exc)
