"""Writes under load: acknowledged writes/s and PUT latency of a real `reelrank serve` with a store.

Starts `reelrank serve ARTIFACT --store ... --workers W` (SQLite, or a throwaway local PostgreSQL
with `--postgres`), then `--clients` concurrent clients PUT distinct ratings for `--seconds`
(the load generator runs on the same machine, in this process). Counts the writes answered 200,
checks each is in the store afterwards, and reports writes/s, PUT p50/p99, the latency of a list
fetched right after a write, and every non-200 answer.

    .venv/bin/python benchmarks/store_load.py --artifact artifacts/two-stage [--workers 2]
        [--clients 16] [--seconds 10] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from reelrank.recommender.recommender import Recommender
from reelrank.store import RatingStore
from reelrank.testing.postgres import postgres_server

KEY = "store-load-operator-key-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifact", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--list-every", type=int, default=20, help="fetch a list after every N-th write (0: never)"
    )
    args = parser.parse_args()
    movies = [str(m) for m in Recommender.load(args.artifact).catalog.table.movie_id[1:]]
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        location = str(Path(folder) / "store.sqlite3")
        if args.postgres:
            location = stack.enter_context(postgres_server()).create_database("load")
        key_file = Path(folder) / "api.key"
        key_file.write_text(KEY)
        base, server = start(args.artifact, location, key_file, args.workers)
        try:
            figures = asyncio.run(load(base, movies, args.clients, args.seconds, args.list_every))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        with RatingStore(location) as store:
            stored = {(r.user_id, r.movie_id) for b in store.all_ratings() for r in b}
    figures["acknowledged_missing_from_store"] = len(figures.pop("acked") - stored)
    figures |= {"store": "postgresql" if args.postgres else "sqlite", "workers": args.workers}
    print(json.dumps(figures, indent=2))


def start(
    artifact: Path, store: str, key_file: Path, workers: int
) -> tuple[str, subprocess.Popen[bytes]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [sys.executable, "-m", "reelrank", "serve", str(artifact), "--port", str(port)]
    command += ["--store", store, "--api-key-file", str(key_file), "--workers", str(workers)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return base, server
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


async def load(
    base: str, movies: list[str], clients: int, seconds: float, list_every: int
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {KEY}"}
    put_ms: list[float] = []
    list_ms: list[float] = []
    statuses: Counter[int] = Counter()
    acked: set[tuple[str, str]] = set()
    written = [0]
    deadline = time.perf_counter() + seconds

    async def client(number: int) -> None:
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as http:
            n = 0
            while time.perf_counter() < deadline:
                user, movie = f"load{number}", movies[n % len(movies)]
                n += 1
                tick = time.perf_counter()
                answer = await http.put(
                    f"/users/{user}/ratings/{movie}", json={"rating": float(1 + n % 5)}
                )
                put_ms.append((time.perf_counter() - tick) * 1000)
                statuses[answer.status_code] += 1
                if answer.status_code == 200:
                    acked.add((user, movie))
                    written[0] += 1
                if list_every and n % list_every == 0:  # the writer's list right after a write
                    tick = time.perf_counter()
                    listed = await http.get(f"/users/{user}/recommendations")
                    list_ms.append((time.perf_counter() - tick) * 1000)
                    statuses[listed.status_code] += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    took = time.perf_counter() - started
    return {
        "clients": clients,
        "seconds": round(took, 1),
        "acknowledged_writes": written[0],
        "acknowledged_writes_per_s": round(written[0] / took, 1),
        "put_ms": _percentiles(put_ms),
        "list_after_write_ms": _percentiles(list_ms),
        "statuses": dict(statuses),
        "acked": acked,
    }


def _percentiles(ms: list[float]) -> dict[str, float]:
    values = np.array(ms) if ms else np.zeros(1)
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p99": round(float(np.percentile(values, 99)), 2),
        "n": len(ms),
    }


if __name__ == "__main__":
    main()
