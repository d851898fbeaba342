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
