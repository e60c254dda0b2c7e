from prunelimit.cli import main

main()
