"""Which columns of someone's own table hold the user, the movie, the rating and the time.

`ColumnMapping` is the CLI's `--columns user=userId,movie=movieId,rating=rating,timestamp=ts`;
`MovieColumns` the same for a movies table (`movie=movieId,title=title,genres=genres`). Without
one, `resolve_columns` recognises the usual names (MovieLens, RecBole, most exports) in any case
and says which columns it picked, or that it cannot tell, listing the table's columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from reelrank.errors import DataError, ReelrankError

Notify = Callable[[str], None]
T = TypeVar("T", bound="TableColumns")


@dataclass(frozen=True)
class TableColumns:
    """Shared parsing for the two mappings; a subclass lists its keys as dataclass fields, the
    required ones first (no default), and the names it recognises in `GUESSES`."""

    REQUIRED: ClassVar[tuple[str, ...]] = ()
    IDS: ClassVar[tuple[str, ...]] = ()  # the keys whose columns hold ids
    GUESSES: ClassVar[Mapping[str, tuple[str, ...]]] = MappingProxyType({})
    FLAG: ClassVar[str] = ""

    @classmethod
    def key_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def form(cls) -> str:
        keys = cls.key_names()
        required = ",".join(f"{k}=COLUMN" for k in cls.REQUIRED)
        optional = "".join(f"[,{k}=COLUMN]" for k in keys if k not in cls.REQUIRED)
        return f"{cls.FLAG} {required}{optional}"

    @classmethod
    def parse(cls: type[T], text: str) -> T:
        """The mapping written `key=column,key=column` (the CLI form); a `ReelrankError` saying
        the accepted form for an unknown, repeated or missing key or an empty column name."""

        def refuse(problem: str) -> ReelrankError:
            return ReelrankError(f"{cls.FLAG} {text!r}: {problem}; expected {cls.form()}")

        pairs: dict[str, str] = {}
        for item in text.split(","):
            key, sep, name = (part.strip() for part in item.partition("="))
            if not sep:
                raise refuse(f"{item.strip()!r} is not key=COLUMN")
            if key not in cls.key_names():
                raise refuse(f"unknown key {key!r} (keys: {', '.join(cls.key_names())})")
            if key in pairs:
                raise refuse(f"{key} is given twice")
            if not name:
                raise refuse(f"{key} names no column")
            pairs[key] = name
        return cls.from_dict(pairs, text)

    @classmethod
    def from_dict(cls: type[T], pairs: Mapping[str, str], shown: str | None = None) -> T:
        """The mapping from `{key: column}`; the same checks as `parse`."""
        shown = shown if shown is not None else ",".join(f"{k}={v}" for k, v in pairs.items())

        def refuse(problem: str) -> ReelrankError:
            return ReelrankError(f"{cls.FLAG} {shown!r}: {problem}; expected {cls.form()}")

        unknown = [k for k in pairs if k not in cls.key_names()]
        if unknown:
            raise refuse(f"unknown key {unknown[0]!r} (keys: {', '.join(cls.key_names())})")
        missing = [k for k in cls.REQUIRED if not pairs.get(k)]
        if missing:
            raise refuse(f"no {' and no '.join(missing)} column")
        seen: dict[str, str] = {}
        for key, name in pairs.items():
            if not name:
                raise refuse(f"{key} names no column")
            if name in seen:
                raise refuse(f"column {name!r} is given as both {seen[name]} and {key}")
            seen[name] = key
        return cls(**pairs)

    def used(self) -> dict[str, str]:
        """`{key: column}` for the keys that name a column, in key order."""
        values: dict[str, Any] = {k: getattr(self, k) for k in self.key_names()}
        return {k: v for k, v in values.items() if v is not None}

    def __str__(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.used().items())


@dataclass(frozen=True)
class ColumnMapping(TableColumns):
    """The columns of a ratings (or views) table: `user` and `movie` ids are required; without
    `rating` the table holds views or clicks (retrieval only), without `timestamp` it has no
    times (no time-based split)."""

    user: str
    movie: str
    rating: str | None = None
    timestamp: str | None = None

    REQUIRED = ("user", "movie")
    IDS = ("user", "movie")
    GUESSES = MappingProxyType(
        {
            "user": ("userId", "user_id", "user"),
            "movie": ("movieId", "movie_id", "item_id", "item", "movie"),
            "rating": ("rating", "user_rating", "score"),
            "timestamp": ("timestamp", "ts", "time"),
        }
    )
    FLAG = "--columns"


@dataclass(frozen=True)
class MovieColumns(TableColumns):
    """The columns of a movies table: the `movie` id (as in the ratings), and optionally a
    `title` (else the id is shown) and `genres` (`|`-separated names, as in MovieLens)."""

    movie: str
    title: str | None = None
    genres: str | None = None

    REQUIRED = ("movie",)
    IDS = ("movie",)
    GUESSES = MappingProxyType(
        {
            "movie": ("movieId", "movie_id", "item_id", "item", "movie", "id"),
            "title": ("title", "movie_title", "name"),
            "genres": ("genres", "genre"),
        }
    )
    FLAG = "--movie-columns"


def as_mapping(given: T | str | Mapping[str, str] | None, kind: type[T]) -> T | None:
    """`given` (a mapping, its CLI text or a dict) as a `kind`; None stays None (guess)."""
    if given is None or isinstance(given, kind):
        return given
    if isinstance(given, str):
        return kind.parse(given)
    if isinstance(given, Mapping):
        return kind.from_dict(dict(given))
    raise TypeError(f"columns must be a {kind.__name__}, its text or a dict, not {given!r}")


def resolve_columns(
    given: T | None, names: Sequence[str], file: str, kind: type[T], notify: Notify | None
) -> T:
    """The mapping to use for a table with columns `names`: `given` with each column found
    (exactly, else in any case if that picks one), or, if None, guessed from the usual names.

    A missing column, or a table whose id columns cannot be guessed, is a `DataError` listing
    the table's columns."""
    listed = ", ".join(repr(n) for n in names) or "none"
    by_lower: dict[str, list[str]] = {}
    for name in names:
        by_lower.setdefault(name.lower(), []).append(name)
    if given is not None:
        found: dict[str, str] = {}
        for key, name in given.used().items():
            matches = [name] if name in names else by_lower.get(name.lower(), [])
            if len(matches) != 1:
                raise DataError(
                    f"{file}: has no column {name!r} (the {key} column in {kind.FLAG}); its "
                    f"columns are {listed}; expected {kind.FLAG} to name them as written"
                )
            found[key] = matches[0]
        return kind.from_dict(found)
    guessed: dict[str, str] = {}
    for key in kind.key_names():
        for candidate in kind.GUESSES[key]:
            matches = by_lower.get(candidate.lower(), [])
            if len(matches) == 1 and matches[0] not in guessed.values():
                guessed[key] = matches[0]
                break
    missing = [k for k in kind.REQUIRED if k not in guessed]
    if missing:
        usual = "; ".join(f"{k}: {'/'.join(kind.GUESSES[k])}" for k in kind.REQUIRED)
        raise DataError(
            f"{file}: cannot tell which column holds the {' or the '.join(missing)} id (its "
            f"columns are {listed}); expected a header line with the usual names ({usual}), or "
            f"{kind.FLAG} naming them, e.g. {kind.form()}"
        )
    mapping = kind.from_dict(guessed)
    if notify is not None:
        unused = [k for k in kind.key_names() if k not in guessed]
        none = f"; no {' or '.join(unused)} column" if unused else ""
        notify(f"reelrank: {file}: using columns {mapping}{none} (pass {kind.FLAG} to choose).")
    return mapping
