"""The encoded cache: an `Interactions` table stored once as `.npy` files, memory-mapped on load.

Parsing 25M ratings from CSV takes tens of seconds; loading the arrays back takes well under
five, because `numpy.load(mmap_mode="r")` maps them instead of reading them, and only the pages a
run touches are read. An entry is a folder `CACHE/encoded/<key>/` with one `.npy` per array and
`manifest.json` (written last) recording the format version, what the entry was parsed from, each
file's size and sha256, and the table's flags. A folder whose manifest is missing, of another
version, or whose files differ from it is never trusted: it is removed and rebuilt. Folders are
written under a temporary name and renamed into place, so a killed run leaves no half entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from reelrank.data.interactions import Interactions, MovieRecords, UserRecords
from reelrank.files import atomic_path, fsync_tree, remove_path

FORMAT_VERSION = 1  # bump when the layout or the parsing changes
MANIFEST = "manifest.json"
ENCODED_DIR = "encoded"
_ROW_ARRAYS = ("user", "movie", "rating", "timestamp")
_MOVIE_ARRAYS = ("movie_id", "title", "genres")
_USER_ARRAYS = ("gender", "age", "occupation", "zip_code")

Notify = Callable[[str], None]


def cache_key(**parts: object) -> str:
    """A short stable key for what an entry was parsed from (data set, file digests, options)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def entry_dir(cache: Path, key: str) -> Path:
    return cache / ENCODED_DIR / key


def _digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_encoded(cache: Path, key: str, data: Interactions, source: dict[str, Any]) -> Path:
    """Store `data` under `key` (replacing any entry there); `source` says what it came from."""
    target = entry_dir(cache, key)
    arrays: dict[str, np.ndarray] = {name: getattr(data, name) for name in _ROW_ARRAYS}
    arrays["user_ids"] = data.user_ids
    arrays |= {f"movies.{name}": getattr(data.movies, name) for name in _MOVIE_ARRAYS}
    if data.users is not None:
        arrays |= {f"users.{name}": getattr(data.users, name) for name in _USER_ARRAYS}
    remove_path(target)  # os.replace cannot put a folder over a non-empty one
    with atomic_path(target) as tmp:
        tmp.mkdir()
        files: dict[str, dict[str, object]] = {}
        for name, array in arrays.items():
            path = tmp / f"{name}.npy"
            # Unicode, never object arrays: they map from disk and load without pickle.
            np.save(path, np.ascontiguousarray(array), allow_pickle=False)
            files[name] = {"bytes": path.stat().st_size, "sha256": _digest(path)}
        manifest = {
            "format_version": FORMAT_VERSION,
            "source": source,
            "rows": len(data),
            "explicit": data.explicit,
            "timed": data.timed,
            "files": files,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        fsync_tree(tmp)
    return target


def read_encoded(
    cache: Path, key: str, notify: Notify, *, verify: bool = True
) -> Interactions | None:
    """The entry under `key`, memory-mapped, or None when there is none. An unusable entry is
    removed and reported. `verify` checks every file's sha256 (about 0.3 s per 100 MB)."""
    folder = entry_dir(cache, key)
    if not folder.is_dir():
        return None
    try:
        return _load(folder, verify)
    # Deliberately broad: the cache is disposable, and anything wrong with it must lead to a
    # rebuild from the source, never a crash or a wrong table.
    except Exception as e:
        notify(f"reelrank: the encoded cache {folder} is unusable ({e}); rebuilding it.")
        with contextlib.suppress(OSError):
            remove_path(folder)
        return None


def _load(folder: Path, verify: bool) -> Interactions:
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{MANIFEST} is of another format version")
    files: dict[str, dict[str, Any]] = manifest["files"]
    on_disk = {p.name for p in folder.iterdir()} - {MANIFEST}
    if on_disk != {f"{name}.npy" for name in files}:
        raise ValueError("its files differ from those its manifest lists")
    arrays: dict[str, np.ndarray] = {}
    for name, expected in files.items():
        path = folder / f"{name}.npy"
        if os.stat(path).st_size != expected["bytes"]:
            raise ValueError(f"{path.name} has another size than its manifest says")
        if verify and _digest(path) != expected["sha256"]:
            raise ValueError(f"{path.name} has another sha256 than its manifest says")
        arrays[name] = np.load(path, mmap_mode="r", allow_pickle=False)
    users = None
    if "users.gender" in arrays:
        users = UserRecords(**{name: arrays[f"users.{name}"] for name in _USER_ARRAYS})
    data = Interactions(
        user_ids=arrays["user_ids"],
        movies=MovieRecords(**{name: arrays[f"movies.{name}"] for name in _MOVIE_ARRAYS}),
        users=users,
        user=arrays["user"],
        movie=arrays["movie"],
        rating=arrays["rating"],
        timestamp=arrays["timestamp"],
        explicit=bool(manifest["explicit"]),
        timed=bool(manifest["timed"]),
    )
    if len(data) != manifest["rows"]:
        raise ValueError(f"it has {len(data)} rows, its manifest says {manifest['rows']}")
    return data


def cached_or_parsed(
    cache: Path,
    key: str,
    parse: Callable[[], Interactions],
    source: dict[str, Any],
    notify: Notify,
) -> Interactions:
    """The entry under `key`, else `parse()` stored there (a failed write only costs speed)."""
    found = read_encoded(cache, key, notify)
    if found is not None:
        return found
    data = parse()
    try:
        write_encoded(cache, key, data, source)
    except OSError as e:
        notify(f"reelrank: could not write the encoded cache in {cache} ({e}); continuing.")
    return data
