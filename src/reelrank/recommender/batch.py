"""Every user's list at once, as Parquet: what people run nightly to fill a cache or a database.

`write_all_users` serves each known user the list `Recommender.recommend` would (the same
`recommend_many` path, so the same filters, order and popular fallback), a chunk of users at a
time, and streams the rows to a Parquet file, so memory stays flat however many users there are.
One row per list place: `user_id`, `rank` (1 = first), `movie_id`, `movie_title`, `score` (what
the list is ordered by) and `predicted_rating` (null without a rating model).

Launched by `torchrun`, each process writes the lists of its own share of the users as a part
file of one output folder, and rank 0 adds `_manifest.json`, listing the parts, once all are
written. Readers of a folder of Parquet files (pyarrow, pandas, Spark, DuckDB) skip names that
start with `_`. Outputs appear whole or not at all: everything is written beside the target
and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reelrank.artifacts.directory import swap_into_place
from reelrank.data.catalog.catalog import ListFilter
from reelrank.errors import ReelrankError
from reelrank.files import fsync_tree, sweep_stale, temporary_name
from reelrank.recommender.lists import ListOrder, ServedLists, check_k
from reelrank.recommender.recommender import Recommender
from reelrank.runtime.distributed import World, barrier, broadcast_object, gather_objects

MANIFEST = "_manifest.json"
CHUNK_USERS = 1024  # users served at once: a [1024, k] list and its scoring work


@dataclass(frozen=True)
class BatchSummary:
    """What `write_all_users` wrote: the file or folder, and how many users and rows."""

    path: str
    users: int
    rows: int
    seconds: float
    parts: int = 1


def write_all_users(
    recommender: Recommender,
    out: str | Path,
    *,
    k: int,
    include_seen: bool = False,
    only: ListFilter | None = None,
    order: ListOrder = "relevance",
    chunk_users: int = CHUNK_USERS,
    world: World | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> BatchSummary:
    """Write the top `k` movies of every known user to `out` (a Parquet file; a folder of part
    files and a manifest when `world` has several processes, each writing its share), as
    `recommend` serves them with `include_seen`, `only` and `order`. An existing output of an
    earlier run is replaced; anything else at `out` is refused.

    `on_progress(done, total)` is told the users done so far of this process's share. Returns
    the summary of what this process wrote (rank 0's also counts every part).
    """
    world = world or World()
    check_k(k)
    if chunk_users < 1:
        raise ReelrankError(f"chunk_users must be at least 1, got {chunk_users}")
    target = Path(out)
    _check_target(target, world)
    start = time.perf_counter()
    n_users = recommender.catalog.users.size - 1
    users = np.arange(1, n_users + 1)[world.shard(n_users)]
    if world.is_main:
        sweep_stale(target, ("tmp", "old"))  # what a killed earlier run left beside it
    # One name for this run's staging folder (rank 0's), the same on every process.
    staging = broadcast_object(world, temporary_name(target, "tmp"))
    staging.mkdir(exist_ok=world.distributed)
    part = staging / (f"part-{world.rank:05d}.parquet" if world.distributed else target.name)
    try:
        served = {"include_seen": include_seen, "only": only, "order": order}
        rows = _write_lists(recommender, part, users, k, served, chunk_users, on_progress)
        mine: dict[str, Any] = {"file": part.name, "users": len(users), "rows": rows}
        parts = gather_objects(world, mine)
        if world.is_main:
            if world.distributed:
                manifest = _manifest(recommender, parts, k, order)
                (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
                fsync_tree(staging)
                swap_into_place(staging, target)
            else:
                os.replace(part, target)
        barrier(world)  # nobody returns before the output is in place
    finally:
        if world.is_main:
            shutil.rmtree(staging, ignore_errors=True)
    total = parts if world.is_main else parts[world.rank : world.rank + 1]
    return BatchSummary(
        path=str(target),
        users=sum(p["users"] for p in total),
        rows=sum(p["rows"] for p in total),
        seconds=time.perf_counter() - start,
        parts=len(total),
    )


def _write_lists(
    recommender: Recommender,
    path: Path,
    users: np.ndarray,
    k: int,
    served: dict[str, Any],
    chunk_users: int,
    on_progress: Callable[[int, int], None] | None,
) -> int:
    """Stream the lists of `users` into one Parquet file; returns its rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    catalog = recommender.catalog
    # Ids and titles once, as Arrow arrays: each chunk's strings are then gathered by index in
    # Arrow's C++, never built row by row in Python.
    user_ids = pa.array(np.r_[[""], catalog.users.terms].astype(str))
    movie_ids = pa.array(np.asarray(catalog.table.movie_id).astype(str))
    titles = pa.array(np.r_[[""], catalog.movies.terms].astype(str))
    schema = pa.schema(
        [
            ("user_id", pa.string()),
            ("rank", pa.int32()),
            ("movie_id", pa.string()),
            ("movie_title", pa.string()),
            ("score", pa.float32()),
            ("predicted_rating", pa.float32()),
        ]
    )
    rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for start in range(0, len(users), chunk_users):
            chunk = users[start : start + chunk_users]
            lists = recommender.recommend_many(chunk, k, **served)
            user, rank, movie = _places(chunk, lists)
            predicted = (
                pa.nulls(len(movie), pa.float32())
                if lists.predicted_rating is None
                else pa.array(lists.predicted_rating[lists.movies >= 0], pa.float32())
            )
            columns = [
                user_ids.take(user),
                pa.array(rank, pa.int32()),
                movie_ids.take(movie),
                titles.take(movie),
                pa.array(lists.order_score[lists.movies >= 0], pa.float32()),
                predicted,
            ]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            rows += len(movie)
            if on_progress is not None:
                on_progress(min(start + chunk_users, len(users)), len(users))
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    return rows


def _check_target(target: Path, world: World) -> None:
    """Refuse an `--out` this run may not replace: only an earlier output is replaced (a Parquet
    file; a folder with our manifest), never another file or folder."""
    if not target.parent.is_dir():
        raise ReelrankError(f"cannot write {target}: folder {target.parent} does not exist")
    if not target.exists():
        return
    if world.distributed and not (target / MANIFEST).is_file():
        raise ReelrankError(
            f"{target} exists and is not an earlier all-users output (it has no {MANIFEST}); "
            "several processes write a folder of parts there: choose a new --out"
        )
    if not world.distributed and not (target.is_file() and _is_parquet(target)):
        raise ReelrankError(
            f"{target} exists and is not a Parquet file, so it is not replaced: choose a new --out"
        )


def _is_parquet(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"PAR1"


def _places(users: np.ndarray, lists: ServedLists) -> tuple[np.ndarray, ...]:
    """`(user, rank, movie)` index per filled list place, row by row (empty places dropped)."""
    row, column = np.nonzero(lists.movies >= 0)
    return users[row], column + 1, lists.movies[row, column]


def _manifest(
    recommender: Recommender, parts: list[dict[str, Any]], k: int, order: str
) -> dict[str, Any]:
    return {
        "format": "reelrank all-users lists, Parquet parts",
        "k": k,
        "order": order,
        "preset": recommender.config.preset,
        "users": sum(p["users"] for p in parts),
        "rows": sum(p["rows"] for p in parts),
        "parts": parts,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
