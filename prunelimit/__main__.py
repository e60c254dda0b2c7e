"""``python -m prunelimit`` and the ``prunelimit`` script.

Nothing is imported at module level, so Ctrl-C while torch is still importing gives the
documented exit (130, one line), not a traceback.
"""


def run() -> None:
    try:
        from prunelimit.cli import main

        main()
    except KeyboardInterrupt:
        import contextlib
        import os
        import signal
        import sys

        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C ends the process, still no traceback
        with contextlib.suppress(OSError):
            sys.stdout.flush()
        sys.stderr.write("prunelimit: interrupted\n")
        sys.stderr.flush()
        os._exit(130)  # not sys.exit: an interrupt seen mid-import makes CPython end by SIGINT, not 130


if __name__ == "__main__":
    run()
