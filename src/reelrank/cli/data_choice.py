"""Which data a command reads: the data options (`--dataset`, `--data`, `--ratings`, ...) as a
`DataChoice`, or the data an artifact records it was trained on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from reelrank.cli.output import say
from reelrank.data.choice import ML_100K, DataChoice, load_data
from reelrank.recommender.recommender import Recommender


def data_choice(
    dataset: str | None = None,
    data: Path | None = None,
    ratings: Path | None = None,
    columns: str | None = None,
    movies: Path | None = None,
    movie_columns: str | None = None,
    on_bad_rows: str | None = None,
    *,
    recorded: Recommender | None = None,
) -> DataChoice:
    """The data the options name; with none named, the data `recorded` was trained on (else
    MovieLens 100k). Paths are made absolute, so an artifact's record works from anywhere."""

    def absolute(path: Path | None) -> str | None:
        return str(path.expanduser().resolve()) if path is not None else None

    named = any(x is not None for x in (dataset, data, ratings, columns, movies, movie_columns))
    source = recorded.data_info.get("source") if recorded is not None else None
    if not named and isinstance(source, dict):
        choice = DataChoice.from_json(source)
        return replace(choice, on_bad_rows=on_bad_rows or choice.on_bad_rows)
    return DataChoice(
        dataset=dataset or ML_100K,
        data=absolute(data),
        ratings=absolute(ratings),
        columns=columns,
        movies=absolute(movies),
        movie_columns=movie_columns,
        on_bad_rows=on_bad_rows or "refuse",
    )


def load_ratings(choice: DataChoice, cache_dir: Path | None, *, silent: bool = False) -> Any:
    return load_data(choice, cache_dir=cache_dir, notify=quiet if silent else say)


def quiet(_: str) -> None:
    """Where only rank 0 speaks."""
