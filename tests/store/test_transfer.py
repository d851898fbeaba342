"""A store's ratings out to CSV or Parquet and back in, on both backends: a backup restores the
same ratings, and the files are what `--ratings` reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelrank.data.tables.ratings_file import read_ratings_file
from reelrank.errors import ReelrankError
from reelrank.store import RatingStore, StoredRating
from reelrank.store.transfer import export_ratings, import_ratings

ROWS = [
    StoredRating("1", "50", 4.0, 100),
    StoredRating("1", "7", 2.5, 200),
    StoredRating("a user, with a comma", "50", 5.0, 150),
]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_then_import_restores_the_same_ratings(
    store_location: str, tmp_path: Path, suffix: str
) -> None:
    with RatingStore(store_location) as store:
        store.put_many(ROWS)
        out = tmp_path / f"backup{suffix}"
        assert export_ratings(store, out) == 3
    data = read_ratings_file(out)  # what `reelrank train --ratings FILE` reads
    assert data.explicit and data.timed and len(data) == 3
    with RatingStore(tmp_path / "restored.sqlite3") as restored:
        assert import_ratings(restored, data) == 3
        got = sorted(r for batch in restored.all_ratings() for r in batch)
    assert got == sorted(ROWS)
    assert not list(tmp_path.glob(".backup*"))  # nothing left aside


def test_an_empty_store_exports_a_file_with_the_header(tmp_path: Path) -> None:
    with RatingStore(tmp_path / "s.sqlite3") as store:
        assert export_ratings(store, tmp_path / "empty.csv") == 0
    assert (tmp_path / "empty.csv").read_text().strip() == '"userId","movieId","rating","timestamp"'


def test_export_refuses_other_formats(tmp_path: Path) -> None:
    with RatingStore(tmp_path / "s.sqlite3") as store, pytest.raises(ReelrankError, match=r"\.csv"):
        export_ratings(store, tmp_path / "out.json")
