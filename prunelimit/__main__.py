"""``python -m prunelimit`` and the ``prunelimit`` script.

Nothing is imported at module level, so Ctrl-C while torch is still importing gives the
documented exit (130, one line), not a traceback: it is held until the imports end.
"""


def run() -> None:
    import signal

    # Ctrl-C while the CLI imports (torch among it) is held until the imports end: raised
    # inside torch's initialisation it can abort the process from C++ (SIGABRT) or be
    # swallowed by an import's broad except (exit 0). A second Ctrl-C ends the process.
    # A SIGINT the caller ignores (a shell's background job) stays ignored, as in the command.
    held: list[int] = []

    def hold(signum, frame) -> None:
        held.append(signum)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, hold)
    try:
        try:
            from prunelimit.cli import main
        finally:
            signal.signal(signal.SIGINT, previous)
        if held:
            raise KeyboardInterrupt
        from prunelimit.distributed import budget_counted_from, process_age

        with budget_counted_from(process_age()):  # a --time-budget counts Python's and torch's start-up too
            main()
    except KeyboardInterrupt:
        import contextlib
        import os
        import sys

        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C ends the process, still no traceback
        with contextlib.suppress(OSError):
            sys.stdout.flush()
        sys.stderr.write("prunelimit: interrupted\n")
        sys.stderr.flush()
        os._exit(130)  # not sys.exit: an interrupt seen mid-import makes CPython end by SIGINT, not 130
    except SystemExit as exc:
        import os
        import sys

        if exc.code not in (129, 130, 143) and "WORLD_SIZE" not in os.environ:  # torchrun sets it
            raise
        # An interrupt the command handled (message printed, files cleaned up): end with its
        # documented code even when the signal arrived mid-import, which makes CPython end
        # by the signal itself (-2) after a plain sys.exit, and at once: SIGHUP's 129 went
        # through Python's whole shutdown (up to 3.7 s on a loaded machine), where the SIGTERM
        # a closing terminal sends next ended the process by that signal (-15). Under torchrun,
        # any end: once one rank exits, torchrun sends the others SIGTERM, and a rank still
        # shutting Python down (signal handlers reset) would die of it (-15) rather than exit
        # with its code.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1)


if __name__ == "__main__":
    run()
