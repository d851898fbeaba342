"""`reelrank store info | import FILE | export --out FILE`: back up, inspect and feed the rating
store (the same columns `--ratings` reads)."""

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
from reelrank.cli.output import console, emit_json, say, user_errors


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
