"""The encoded cache: stored once, memory-mapped back, never trusted when altered."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reelrank.data.encoding.cache import (
    MANIFEST,
    cache_key,
    cached_or_parsed,
    entry_dir,
    read_encoded,
    write_encoded,
)
from reelrank.data.interactions import Interactions
from reelrank.types import Ratings


def _same(a: Interactions, b: Interactions) -> bool:
    return a.fingerprint() == b.fingerprint() and np.array_equal(a.movies.title, b.movies.title)


def test_round_trip_is_memory_mapped(tmp_path: Path, ratings: Ratings) -> None:
    data = Interactions.from_ratings(ratings)
    write_encoded(tmp_path, "k", data, {"dataset": "test"})
    notes: list[str] = []
    back = read_encoded(tmp_path, "k", notes.append)
    assert back is not None and not notes
    assert _same(back, data) and back.users is not None
    assert isinstance(back.user, np.memmap)
    assert back.explicit and back.timed
    assert read_encoded(tmp_path, "other", notes.append) is None


def test_altered_entry_is_rebuilt(tmp_path: Path, ratings: Ratings) -> None:
    data = Interactions.from_ratings(ratings)
    folder = write_encoded(tmp_path, "k", data, {})
    rating = np.load(folder / "rating.npy")
    rating[0] = 5.0 if rating[0] != 5.0 else 1.0
    np.save(folder / "rating.npy", rating)  # same size, other bytes
    notes: list[str] = []
    assert read_encoded(tmp_path, "k", notes.append) is None
    assert "unusable" in notes[0] and "sha256" in notes[0]
    assert not folder.exists()


def test_missing_manifest_or_extra_file(tmp_path: Path, ratings: Ratings) -> None:
    data = Interactions.from_ratings(ratings)
    folder = write_encoded(tmp_path, "k", data, {})
    (folder / "stray.npy").write_bytes(b"x")
    notes: list[str] = []
    assert read_encoded(tmp_path, "k", notes.append) is None
    folder = write_encoded(tmp_path, "k", data, {})
    (folder / MANIFEST).unlink()
    assert read_encoded(tmp_path, "k", notes.append) is None
    assert len(notes) == 2


def test_parsed_once_then_read(tmp_path: Path, ratings: Ratings) -> None:
    data = Interactions.from_ratings(ratings)
    calls: list[int] = []

    def parse() -> Interactions:
        calls.append(1)
        return data

    key = cache_key(dataset="x", size=1)
    first = cached_or_parsed(tmp_path, key, parse, {"dataset": "x"}, print)
    second = cached_or_parsed(tmp_path, key, parse, {"dataset": "x"}, print)
    assert calls == [1] and _same(first, second)
    manifest = json.loads((entry_dir(tmp_path, key) / MANIFEST).read_text())
    assert manifest["rows"] == len(data) and manifest["source"] == {"dataset": "x"}
    assert cache_key(dataset="x", size=2) != key
