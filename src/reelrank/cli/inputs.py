"""What commands read, defined once: the data options (`--dataset`, `--data`, `--ratings`, ...)
that `train`, `evaluate`, `report` and `data info` share, and an artifact loaded onto a device."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from reelrank.cli.app import (
    BadRowsOption,
    ColumnsOption,
    DataOption,
    DatasetOption,
    MovieColumnsOption,
    MoviesOption,
    RatingsOption,
)
from reelrank.cli.output import say
from reelrank.data.choice import ML_100K, DataChoice, load_data
from reelrank.recommender.recommender import Recommender

F = TypeVar("F", bound=Callable[..., Any])

# Each data option: its parameter name (which Typer turns into the flag) and its annotation.
_DATA_OPTIONS: dict[str, Any] = {
    "dataset": DatasetOption,
    "data": DataOption,
    "ratings": RatingsOption,
    "columns": ColumnsOption,
    "movies": MoviesOption,
    "movie_columns": MovieColumnsOption,
    "on_bad_rows": BadRowsOption,
}


@dataclass(frozen=True)
class DataOptions:
    """The data options as given on the command line (None where not given)."""

    dataset: str | None = None
    data: Path | None = None
    ratings: Path | None = None
    columns: str | None = None
    movies: Path | None = None
    movie_columns: str | None = None
    on_bad_rows: str | None = None

    def choice(self, *, recorded: Recommender | None = None) -> DataChoice:
        """The data the options name; with none named, the data `recorded` was trained on (else
        MovieLens 100k). Paths are made absolute, so an artifact's record works from anywhere."""
        named = any(
            value is not None
            for name, value in vars(self).items()
            if name != "on_bad_rows"  # a policy, not a data set
        )
        source = recorded.data_info.get("source") if recorded is not None else None
        if not named and isinstance(source, dict):
            choice = DataChoice.from_json(source)
            return replace(choice, on_bad_rows=self.on_bad_rows or choice.on_bad_rows)
        return DataChoice(
            dataset=self.dataset or ML_100K,
            data=_absolute(self.data),
            ratings=_absolute(self.ratings),
            columns=self.columns,
            movies=_absolute(self.movies),
            movie_columns=self.movie_columns,
            on_bad_rows=self.on_bad_rows or "refuse",
        )


def with_data_options(command: F) -> F:
    """Give `command` the data options: its parameter `data_options: DataOptions` becomes the
    seven flags in `--help`, and the command receives them as one `DataOptions`."""
    # The command's annotations, resolved in its own module (they may be strings there).
    hints = typing.get_type_hints(command, include_extras=True)
    hints.pop("data_options")
    signature = inspect.signature(command)
    parameters: list[inspect.Parameter] = []
    for parameter in signature.parameters.values():
        if parameter.name != "data_options":
            parameters.append(parameter.replace(annotation=hints[parameter.name]))
            continue
        parameters += [
            inspect.Parameter(
                name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=kind
            )
            for name, kind in _DATA_OPTIONS.items()
        ]

    @functools.wraps(command)
    def with_options(**kwargs: Any) -> Any:
        options = DataOptions(**{name: kwargs.pop(name) for name in _DATA_OPTIONS})
        return command(**kwargs, data_options=options)

    with_options.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    with_options.__annotations__ = hints | _DATA_OPTIONS
    return with_options  # type: ignore[return-value]


def load_ratings(choice: DataChoice, cache_dir: Path | None, *, silent: bool = False) -> Any:
    return load_data(choice, cache_dir=cache_dir, notify=quiet if silent else say)


def load_recommender(artifact: Path, device_name: str | None = None) -> Recommender:
    """The artifact at `artifact`, on the `--device` named (left on the CPU without one)."""
    recommender = Recommender.load(artifact)
    if device_name is None:
        return recommender
    from reelrank.runtime.devices import resolve_device

    return recommender.to(resolve_device(device_name))


def quiet(_: str) -> None:
    """Where only rank 0 speaks."""


def _absolute(path: Path | None) -> str | None:
    return str(path.expanduser().resolve()) if path is not None else None
