"""`reelrank store info | import | export` on an SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from reelrank.cli import app

runner = CliRunner()


def test_import_info_export(tmp_path: Path) -> None:
    ratings = tmp_path / "r.csv"
    ratings.write_text("userId,movieId,rating,timestamp\n1,50,4,100\n1,7,2.5,200\n2,50,5,150\n")
    store = ["--store", str(tmp_path / "s.sqlite3")]
    done = runner.invoke(app, ["store", "import", str(ratings), *store, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["imported"] == 3
    info = runner.invoke(app, ["store", "info", *store, "--json"])
    assert info.exit_code == 0, info.output
    counts = json.loads(info.stdout)
    assert (counts["users"], counts["ratings"], counts["backend"]) == (2, 3, "sqlite")
    out = tmp_path / "backup.parquet"
    exported = runner.invoke(app, ["store", "export", *store, "--out", str(out)])
    assert exported.exit_code == 0 and out.is_file(), exported.output


def test_bad_input_is_one_line_and_exit_1(tmp_path: Path) -> None:
    corrupt = tmp_path / "bad.sqlite3"
    corrupt.write_bytes(b"not a database " * 100)
    done = runner.invoke(app, ["store", "info", "--store", str(corrupt)])
    assert done.exit_code == 1 and "corrupt or not a reelrank store" in done.stderr
    views = tmp_path / "views.csv"
    views.write_text("userId,movieId\n1,50\n")
    store = ["--store", str(tmp_path / "s.sqlite3")]
    done = runner.invoke(app, ["store", "import", str(views), *store])
    assert done.exit_code == 1 and "no rating column" in done.stderr
    done = runner.invoke(app, ["store", "export", *store, "--out", str(tmp_path / "x.txt")])
    assert done.exit_code == 1 and "must end in .csv or .parquet" in done.stderr


def test_add_edit_and_list_movies(tmp_path: Path, artifact: Path) -> None:
    store = ["--store", str(tmp_path / "s.sqlite3"), "--model", str(artifact)]
    added = runner.invoke(
        app,
        [
            "store",
            "add-movie",
            "Brand New Film",
            "--genre",
            "comedy",
            "--year",
            "2026",
            *store,
            "--json",
        ],
    )
    assert added.exit_code == 0, added.output
    movie = json.loads(added.stdout)
    assert (movie["title"], movie["genres"], movie["year"]) == ("Brand New Film", ["Comedy"], 2026)
    again = runner.invoke(
        app, ["store", "add-movie", "Brand New Film", "--genre", "Drama", "--year", "2026", *store]
    )
    assert again.exit_code == 1 and "already" in again.stderr
    no_genre = runner.invoke(app, ["store", "add-movie", "Other", *store])
    assert no_genre.exit_code == 1 and "--genre" in no_genre.stderr
    bad_genre = runner.invoke(app, ["store", "add-movie", "Other", "--genre", "Opera", *store])
    assert bad_genre.exit_code == 1 and "unknown genre 'Opera'" in bad_genre.stderr
    hidden = runner.invoke(app, ["store", "edit-movie", movie["movie_id"], "--hide", *store])
    assert hidden.exit_code == 0 and "taken down" in hidden.output
    unknown = runner.invoke(app, ["store", "edit-movie", "no-such-id", "--hide", *store])
    assert unknown.exit_code == 1 and "unknown movie id" in unknown.stderr
    listed = runner.invoke(app, ["store", "movies", store[0], store[1], "--json"])
    assert [m["hidden"] for m in json.loads(listed.stdout)["movies"]] == [True]
