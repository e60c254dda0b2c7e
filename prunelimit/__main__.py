import sys

try:  # Ctrl-C while torch is still importing: the SPEC §4 exit, not a traceback
    from prunelimit.cli import main

    main()
except KeyboardInterrupt:
    sys.stderr.write("prunelimit: interrupted\n")
    sys.exit(130)
