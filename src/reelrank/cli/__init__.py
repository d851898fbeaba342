"""The `reelrank` command line: train, evaluate, recommend, similar, score, serve, data info.

Thin by design: each command parses arguments, calls the library and prints (`output`). Bad input
ends with one clear line on stderr and exit status 1; an unexpected error says it is a bug and where
its traceback went (exit status 70).
"""

# Importing the modules registers their commands, in this order (`reelrank --help` lists them so).
from reelrank.cli import train, commands, lists, store  # noqa: F401, I001
from reelrank.cli.app import app, main

__all__ = ["app", "main"]
