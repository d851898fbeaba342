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
from reelrank.runtime.devices import DEVICE_HELP

app = typer.Typer(
    name="reelrank",
    help="reelrank: a two-stage movie recommender (retrieval + ranking) on MovieLens.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Inspect the data set.", no_args_is_help=True)
app.add_typer(data_app, name="data")
store_app = typer.Typer(
    help=(
        "The rating store: what people rate, kept durably (info, import, export), and the "
        "movies added after training (add-movie, edit-movie, movies)."
    ),
    no_args_is_help=True,
)
app.add_typer(store_app, name="store")

DatasetOption = Annotated[
    str | None,
    typer.Option(
        "--dataset",
        help=(
            "The MovieLens data set: ml-100k (default), ml-1m, ml-10m, ml-20m, ml-25m, ml-32m or "
            "ml-latest-small; downloaded from GroupLens and cached on first use. Evaluating an "
            "artifact reads the data it was trained on unless another is named."
        ),
    ),
]
DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help=(
            "The data set's GroupLens zip or unzipped folder (or a folder written by `reelrank "
            "data synth`) to read instead of downloading."
        ),
    ),
]
RatingsOption = Annotated[
    Path | None,
    typer.Option(
        "--ratings",
        help="Your own ratings (or views) as CSV, TSV or Parquet, instead of a MovieLens set.",
    ),
]
ColumnsOption = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help=(
            "Which --ratings columns hold what, e.g. user=userId,movie=movieId,rating=rating,"
            "timestamp=ts (rating and timestamp optional; default: guessed from common names)."
        ),
    ),
]
MoviesOption = Annotated[
    Path | None,
    typer.Option("--movies", help="A movies file for --ratings: movie id, title, genres."),
]
MovieColumnsOption = Annotated[
    str | None,
    typer.Option(
        "--movie-columns", help="Which --movies columns hold what, e.g. movie=id,title=name."
    ),
]
BadRowsOption = Annotated[
    str | None,
    typer.Option(
        "--on-bad-rows",
        help=(
            "Bad rating rows (a repeated user and movie, a time outside 1970-2100, an "
            "unreadable field): refuse the file (default), skip them, or keep-last (each user "
            "and movie's latest rating)."
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
DeviceOption = Annotated[
    str,
    typer.Option("--device", help=f"Compute on: {DEVICE_HELP}; CPU where there is no GPU."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help=(
            "The rating store: an SQLite file (default: $REELRANK_DATA_DIR/store.sqlite3, else "
            "~/.local/share/reelrank/store.sqlite3) or a postgresql://USER@HOST/DB URL."
        ),
    ),
]
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
