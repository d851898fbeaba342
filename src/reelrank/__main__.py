"""`python -m reelrank ...` runs the command line (`torchrun -m reelrank ...` too)."""

from reelrank.cli import main

main()
