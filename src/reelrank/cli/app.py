"""The `reelrank` Typer app, the options its commands share, and the console-script entry point.

The commands live by concept: `commands` (train, evaluate, report, serve, data info) and `lists`
(recommend, similar, score); importing `reelrank.cli` registers them all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from reelrank.cli.output import say
from reelrank.data.splits import SPLIT_HELP

app = typer.Typer(
    name="reelrank",
    help="reelrank: a two-stage movie recommender (retrieval + ranking) on MovieLens.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Inspect the data set.", no_args_is_help=True)
app.add_typer(data_app, name="data")

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="A GroupLens ml-100k folder or ml-100k.zip to use instead of downloading."
    ),
]
BadRowsOption = Annotated[
    str,
    typer.Option(
        "--on-bad-rows",
        help=(
            "Ratings that repeat a user and movie, or carry a time outside 1970-2100: refuse "
            "the file (default), skip them, or keep-last (each user and movie's latest rating)."
        ),
    ),
]
CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Where downloaded data is cached (default: $REELRANK_CACHE_DIR or ~/.cache/reelrank).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
ArtifactArg = Annotated[
    Path, typer.Argument(help="An artifact directory made by `reelrank train`.")
]
TestSplitOption = Annotated[
    str | None,
    typer.Option("--split", help=f"Split to test on (default: the artifact's). {SPLIT_HELP}."),
]
ScoresOption = Annotated[
    bool,
    typer.Option(
        "--scores", help="Also show the retrieval score (an internal number, not a rating)."
    ),
]


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)
