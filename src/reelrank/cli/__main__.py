"""`python -m reelrank.cli ...` runs the command line."""

from reelrank.cli import main

main()
