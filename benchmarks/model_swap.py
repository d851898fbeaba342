"""A model swap under load: no failed request, and the latency while the new model is loaded.

Serves a copy of ARTIFACT (`reelrank serve --workers W`), keeps `--concurrency` requests in flight
(`GET /users/{id}/recommendations?k=10` for random users, with `load_test.py`'s light client) for
`--seconds`, and halfway through replaces the served artifact by OTHER (two renames, as a save
does) and, with one worker, asks `POST /admin/reload`; with several, each worker's own check
(`--reload-every 1`) takes it up. Reports the failed requests, the steady p99 (requests begun
before the swap) and the p99 of requests begun while the swap ran (from the renames until every
worker serves the new version, plus one second), and their ratio.

    .venv/bin/python benchmarks/model_swap.py --artifact A --other B [--workers 1]
        [--concurrency 8] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from load_test import HOST, Connection, free_port, stop_server, user_ids, wait_healthy

KEY = "model-swap-operator-key-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifact", type=Path, required=True)
    parser.add_argument("--other", type=Path, required=True, help="the artifact swapped in")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        served, upcoming = Path(folder) / "served", Path(folder) / "upcoming"
        shutil.copytree(args.artifact, served)
        shutil.copytree(args.other, upcoming)  # copied now: the swap itself is two renames
        key_file = Path(folder) / "api.key"
        key_file.write_text(KEY)
        port = free_port()
        command = [sys.executable, "-m", "reelrank", "serve", str(served), "--host", HOST]
        command += ["--port", str(port), "--workers", str(args.workers)]
        command += ["--api-key-file", str(key_file)]
        command += ["--reload-every", "0" if args.workers == 1 else "1"]
        server = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
        try:
            before = wait_healthy(server, port)["model_version"]
            paths = [f"/users/{u}/recommendations?k=10" for u in user_ids(port)]
            figures = asyncio.run(swap_under_load(port, paths, served, upcoming, args, str(before)))
        finally:
            stop_server(server)
    print(json.dumps(figures, indent=2))


async def swap_under_load(
    port: int,
    paths: list[str],
    served: Path,
    upcoming: Path,
    args: argparse.Namespace,
    before: str,
) -> dict[str, object]:
    records: list[tuple[float, float, bool]] = []  # (began, seconds, ok)
    start = time.perf_counter()
    stop_at = start + args.seconds

    async def client(seed: int) -> None:
        connection, rng = Connection(port), random.Random(seed)
        while (began := time.perf_counter()) < stop_at:
            try:
                status, body = await connection.get(rng.choice(paths))
                ok = status == 200 and body.startswith(b"{")
            except (OSError, asyncio.IncompleteReadError, ValueError):
                ok = False
                await connection.close()
            records.append((began, time.perf_counter() - began, ok))
        await connection.close()

    async def swap() -> tuple[float, float, str]:
        await asyncio.sleep(args.seconds / 2)
        began = time.perf_counter()
        aside = served.with_name("previous")
        os.rename(served, aside)
        os.rename(upcoming, served)
        if args.workers == 1:
            await asyncio.to_thread(_post_reload, port)
        version = await asyncio.to_thread(_wait_for_new_version, port, before, args.workers)
        return began, time.perf_counter(), version

    loads = [client(n) for n in range(args.concurrency)]
    *_, (swap_began, swap_done, after) = await asyncio.gather(*loads, swap())
    steady = sorted(s for began, s, _ in records if start + 2 <= began < swap_began)
    during = sorted(s for began, s, _ in records if swap_began <= began < swap_done + 1)
    p99_steady, p99_during = _p99(steady), _p99(during)
    return {
        "workers": args.workers,
        "concurrency": args.concurrency,
        "requests": len(records),
        "failed": sum(not ok for _, _, ok in records),
        "version_before": before,
        "version_after": after,
        "swap_seconds": round(swap_done - swap_began, 2),
        "steady_p99_ms": round(p99_steady * 1000, 2),
        "during_swap_p99_ms": round(p99_during * 1000, 2),
        "during_swap_requests": len(during),
        "ratio": round(p99_during / p99_steady, 2),
    }


def _post_reload(port: int) -> None:
    request = urllib.request.Request(
        f"http://{HOST}:{port}/admin/reload",
        method="POST",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert json.loads(answer.read())["reloaded"]


def _wait_for_new_version(port: int, before: str, workers: int) -> str:
    """Until `workers` health answers in a row name a new version (each may reach any worker)."""
    seen = 0
    while True:
        with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=10) as answer:
            version = json.loads(answer.read())["model_version"]
        seen = seen + 1 if version != before else 0
        if seen >= 4 * workers:
            return str(version)
        time.sleep(0.05)


def _p99(values: list[float]) -> float:
    return values[min(len(values) - 1, int(0.99 * len(values)))] if values else float("nan")


if __name__ == "__main__":
    main()
