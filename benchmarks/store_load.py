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
import re
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
    parser.add_argument(
        "--generator",
        choices=("httpx", "wrk"),
        default="httpx",
        help="httpx: the clients in this process; wrk: `wrk` (C, Debian's package) holds "
        "--clients connections, each PUT a new user's rating, while one client here writes and "
        "then fetches its own list",
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
            if args.generator == "wrk":
                figures = wrk_load(base, movies, args.clients, args.seconds, Path(folder))
            else:
                figures = asyncio.run(
                    load(base, movies, args.clients, args.seconds, args.list_every)
                )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        with RatingStore(location) as store:
            stored = {(r.user_id, r.movie_id) for b in store.all_ratings() for r in b}
    if args.generator == "wrk":
        # wrk does not say which requests were answered 200, only how many: every one of them
        # wrote a new user's rating, so the store must hold at least that many of its rows.
        by_wrk = sum(user.startswith("wrk") for user, _ in stored)
        missing = max(0, figures["acknowledged_writes"] - len(figures["acked"]) - by_wrk)
        figures["acknowledged_missing_from_store"] = missing + len(figures.pop("acked") - stored)
    else:
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


WRK_SCRIPT = """
local movies = {%s}
local count = 0
local thread_id = 0
function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end
function init(args)
  wrk.method = "PUT"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer %s"
end
function request()
  count = count + 1
  local movie = movies[(count %% #movies) + 1]
  local body = '{"rating": ' .. (1 + count %% 5) .. '}'
  return wrk.format(nil, "/users/wrk" .. id .. "-" .. count .. "/ratings/" .. movie, nil, body)
end
"""


def wrk_load(
    base: str, movies: list[str], connections: int, seconds: float, folder: Path
) -> dict[str, Any]:
    """`wrk` PUTs from `connections` connections for `seconds`, while one client here writes
    a rating and fetches that user's list right after, again and again (a new user every 20
    writes, as a person rating a few movies at a time)."""
    script = folder / "put.lua"
    script.write_text(WRK_SCRIPT % (", ".join(f'"{m}"' for m in movies), KEY))
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    command += ["-s", str(script), base]
    started = time.perf_counter()
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    list_ms: list[float] = []
    statuses: Counter[int] = Counter()
    acked: set[tuple[str, str]] = set()
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
        n = 0
        while wrk.poll() is None and time.perf_counter() - started < seconds - 0.5:
            user, movie = f"probe{n // 20}", movies[(7 * n) % len(movies)]
            n += 1
            answer = http.put(f"/users/{user}/ratings/{movie}", json={"rating": 5.0})
            statuses[answer.status_code] += 1
            if answer.status_code == 200:
                acked.add((user, movie))
            tick = time.perf_counter()
            listed = http.get(f"/users/{user}/recommendations")
            list_ms.append((time.perf_counter() - tick) * 1000)
            statuses[listed.status_code] += 1
            time.sleep(0.02)
    output, _ = wrk.communicate(timeout=seconds + 60)
    took = time.perf_counter() - started
    requests = int(re.search(r"(\d+) requests in", output)[1])  # type: ignore[index]
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    written = requests - (int(refused[1]) if refused else 0) + len(acked)  # wrk's and ours
    percentiles = {
        f"p{q}": _milliseconds(re.search(rf"\s{q}%\s+([\d.]+)(us|ms|s)", output))
        for q in ("50", "99")
    }
    return {
        "clients": connections,
        "generator": "wrk",
        "seconds": round(took, 1),
        "acknowledged_writes": written,
        "acknowledged_writes_per_s": round(written / seconds, 1),
        "put_ms": {**percentiles, "n": requests},
        "list_after_write_ms": _percentiles(list_ms),
        "statuses": dict(statuses),
        "wrk_non_2xx": int(refused[1]) if refused else 0,
        "wrk_socket_errors": errors[1] if errors else "none",
        "acked": acked,
    }


def _milliseconds(found: re.Match[str] | None) -> float:
    if found is None:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[found[2]]
    return round(float(found[1]) * scale, 2)


def _percentiles(ms: list[float]) -> dict[str, float]:
    values = np.array(ms) if ms else np.zeros(1)
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p99": round(float(np.percentile(values, 99)), 2),
        "n": len(ms),
    }


if __name__ == "__main__":
    main()
