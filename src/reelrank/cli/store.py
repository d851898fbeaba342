"""`reelrank store info | import FILE | export --out FILE | add-movie | edit-movie | movies`: back
up, inspect and feed the rating store (the same columns `--ratings` reads), and add, edit or take
down movies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from reelrank.cli.app import (
    BadRowsOption,
    ColumnsOption,
    JsonOption,
    StoreOption,
    store_app,
)
from reelrank.cli.output import console, emit_json, fail, say, user_errors


@store_app.command("info")
def store_info(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Where the store is, its schema version, and how many users and ratings it holds."""
    from reelrank.store.store import RatingStore

    with user_errors(), RatingStore(store) as opened:
        info = opened.info()
    if as_json:
        emit_json(info)
        return
    table = Table(show_header=False)
    for key, value in info.items():
        shown = f"{value:,}" if isinstance(value, int) and key != "schema_version" else value
        table.add_row(key, str(shown))
    console().print(table)


@store_app.command("import")
def store_import(
    ratings_file: Annotated[
        Path, typer.Argument(help="Ratings as CSV, TSV or Parquet (the columns --ratings reads).")
    ],
    store: StoreOption = None,
    columns: ColumnsOption = None,
    on_bad_rows: BadRowsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add the ratings of a file to the store, all or none (a rating already stored for the
    same user and movie is replaced)."""
    from reelrank.data.bad_rows import bad_rows_policy
    from reelrank.data.tables.ratings_file import read_ratings_file
    from reelrank.store.store import RatingStore
    from reelrank.store.transfer import import_ratings

    with user_errors():
        policy = bad_rows_policy(on_bad_rows)
        data = read_ratings_file(ratings_file, columns, on_bad_rows=policy, notify=say)
        with RatingStore(store) as opened:
            written = import_ratings(opened, data)
            where = opened.where
    if as_json:
        emit_json({"store": where, "imported": written})
        return
    say(f"imported {written:,} ratings into {where}")


@store_app.command("export")
def store_export(
    out: Annotated[Path, typer.Option("--out", help="Where to write: FILE.csv or FILE.parquet.")],
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write every stored rating to a CSV or Parquet file (userId, movieId, rating,
    timestamp), written aside and renamed into place when complete."""
    from reelrank.store.store import RatingStore
    from reelrank.store.transfer import export_ratings

    with user_errors(), RatingStore(store) as opened:
        written = export_ratings(opened, out)
        where = opened.where
    if as_json:
        emit_json({"store": where, "out": str(out), "exported": written})
        return
    say(f"exported {written:,} ratings from {where} to {out}")


ModelOption = Annotated[
    Path,
    typer.Option("--model", help="The artifact the server serves: titles are checked against it."),
]
GenreOption = Annotated[
    list[str] | None, typer.Option("--genre", help="A genre (repeat for more): Drama, Comedy, …")
]
YearOption = Annotated[int | None, typer.Option("--year", help="The release year.")]


@store_app.command("add-movie")
def store_add_movie(
    title: Annotated[str, typer.Argument(help="The title, without the year.")],
    model: ModelOption,
    genre: GenreOption = None,
    year: YearOption = None,
    overview: Annotated[str | None, typer.Option("--overview", help="What it is about.")] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a movie to the store: a server of --model with this store serves it at once (in
    search, filters, similar and lists), and `train --store` trains on it."""
    from reelrank.recommender.recommender import Recommender
    from reelrank.service.store_movies import with_store_movies
    from reelrank.store.store import RatingStore

    with user_errors(), RatingStore(store) as opened:
        if not genre:
            fail("a movie needs at least one --genre")
        served = with_store_movies(Recommender.load(model), opened)
        served.catalog.check_new_title(title, year)
        first_id = served.catalog.next_movie_id()
        added = opened.movies.add(title, genre, year, overview=overview, first_id=first_id)
        where = opened.where
    if as_json:
        emit_json({"store": where, **added.to_dict()})
        return
    say(f"added movie {added.movie_id}: {title} ({', '.join(added.genres or ())}) to {where}")


@store_app.command("edit-movie")
def store_edit_movie(
    movie_id: Annotated[str, typer.Argument(help="The movie's id (a data set's or an added one).")],
    model: ModelOption,
    title: Annotated[str | None, typer.Option("--title", help="A new title.")] = None,
    genre: GenreOption = None,
    year: YearOption = None,
    hide: Annotated[
        bool | None,
        typer.Option("--hide/--show", help="Take the movie down, or bring it back."),
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a movie's title, genres or year, or take it down (--hide) or back (--show)."""
    from reelrank.recommender.recommender import Recommender
    from reelrank.service.store_movies import with_store_movies
    from reelrank.store.store import RatingStore

    with user_errors(), RatingStore(store) as opened:
        served = with_store_movies(Recommender.load(model), opened)
        row = served.catalog.row_of_id(movie_id)
        if not row:
            fail(f"unknown movie id {movie_id!r}: neither --model nor the store has it")
        if title is not None:
            shown_year = year if year is not None else served.catalog.info(row).year
            served.catalog.check_new_title(title, shown_year, row=row)
        edited = opened.movies.edit(movie_id, title=title, genres=genre, year=year, hidden=hide)
    if as_json:
        emit_json(edited.to_dict())
        return
    say(f"movie {movie_id} {'taken down' if edited.hidden else 'edited'}")


@store_app.command("movies")
def store_movies(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """The movies added to the store and the edits of the data set's, oldest first."""
    from reelrank.store.store import RatingStore

    with user_errors(), RatingStore(store) as opened:
        movies = opened.movies.all()
    if as_json:
        emit_json({"movies": [m.to_dict() for m in movies]})
        return
    table = Table("id", "added", "title", "genres", "year", "hidden")
    for m in movies:
        table.add_row(
            m.movie_id,
            "yes" if m.added else "edit",
            m.title or "",
            ", ".join(m.genres or ()),
            str(m.year or ""),
            "yes" if m.hidden else "",
        )
    console().print(table)
