"""Load test of `reelrank serve`: requests per second, latency percentiles and errors.

Run: .venv/bin/python benchmarks/load_test.py --artifact PATH [--duration 30] [--concurrency 8]
     [--workers 2] [--threads 1] [--warmup 3] [--k 10] [--path /users/{user}/recommendations?k={k}]

Starts `reelrank serve ARTIFACT` on 127.0.0.1 (a free port), waits for /health, then for a fixed
duration keeps `concurrency` requests in flight over keep-alive connections, each a
`GET /users/{id}/recommendations?k=10` for a user id drawn at random from the model's users. It
prints one JSON line with requests/s, p50/p95/p99 latency (ms) and the error count, then stops the
server. Requests during the warm-up seconds are not counted.

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams rather than httpx: the load
generator shares the machine's CPUs with the server, and httpx spends about 1.9 ms of CPU per
request here (as much as the server's whole request) against 0.2 ms for this client, so with httpx
the figure would measure the client more than the service.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"  # never anything else: this tool must not load a machine it does not own


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, counted requests only
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what)


class Connection:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads Content-Length bodies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nAccept: */*\r\n\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = None


async def worker(
    port: int, paths: list[str], start: float, counted_from: float, stop_at: float, tally: Tally
) -> int:
    """Sends requests back to back until `stop_at`; returns how many it sent."""
    connection = Connection(port)
    rng = random.Random(hash((start, id(tally), id(connection))))
    sent = 0
    try:
        while (now := time.perf_counter()) < stop_at:
            path = rng.choice(paths)
            try:
                status, body = await connection.get(path)
                ok = status == 200 and body.startswith(b"{")
                if not ok:
                    tally.error(f"{status} {body[:120]!r}")
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                tally.error(f"{type(error).__name__}: {error}")
                await connection.close()
                continue
            finally:
                sent += 1
            if now >= counted_from:
                tally.latencies.append(time.perf_counter() - now)
    finally:
        await connection.close()
    return sent


async def run_load(
    port: int, paths: list[str], concurrency: int, warmup: float, duration: float
) -> tuple[Tally, float]:
    start = time.perf_counter()
    counted_from = start + warmup
    stop_at = counted_from + duration
    tally = Tally()
    await asyncio.gather(
        *(worker(port, paths, start, counted_from, stop_at, tally) for _ in range(concurrency))
    )
    return tally, time.perf_counter() - counted_from


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "reelrank.cli", "serve", str(args.artifact)]
    command += ["--host", HOST, "--port", str(port), "--workers", str(args.workers)]
    command += ["--threads", str(args.threads)]
    # Its own process group, so stopping it also stops uvicorn's worker processes.
    return subprocess.Popen(command, start_new_session=True)


def wait_healthy(
    server: subprocess.Popen[bytes], port: int, timeout: float = 60.0
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode} before serving")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2) as response:
                health: dict[str, object] = json.loads(response.read())
                return health
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer /health within {timeout:.0f} s")


def user_ids(port: int) -> list[str]:
    with urllib.request.urlopen(f"http://{HOST}:{port}/users?limit=1000", timeout=5) as response:
        ids: list[str] = json.loads(response.read())["user_ids"]
        return ids


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGINT)  # uvicorn shuts down gracefully on SIGINT
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q * len(sorted_values)) - 1))
    return sorted_values[rank]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", type=Path, required=True)
    parser.add_argument("--duration", type=float, default=30.0, help="Counted seconds.")
    parser.add_argument("--warmup", type=float, default=3.0, help="Uncounted seconds first.")
    parser.add_argument("--concurrency", type=int, default=8, help="Requests in flight.")
    parser.add_argument(
        "--workers", type=int, default=2, help="Server worker processes (one per core)."
    )
    parser.add_argument("--threads", type=int, default=1, help="Torch threads per worker.")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--path",
        default="/users/{user}/recommendations?k={k}",
        help="Request path; {user} and {k} are filled in (e.g. /health for the framework's cost).",
    )
    args = parser.parse_args()
    if not 0 < args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be in (0, 600] and --warmup in [0, 60] seconds")
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency must be in 1..256")

    port = free_port()
    server = start_server(args, port)
    try:
        health = wait_healthy(server, port)
        paths = sorted({args.path.format(user=u, k=args.k) for u in user_ids(port)})
        tally, seconds = asyncio.run(
            run_load(port, paths, args.concurrency, args.warmup, args.duration)
        )
    finally:
        stop_server(server)

    latencies = sorted(tally.latencies)
    report = {
        "endpoint": "GET " + args.path.replace("{k}", str(args.k)),
        "model": health.get("preset"),
        "two_stage": health.get("two_stage"),
        "workers": args.workers,
        "threads": args.threads,
        "concurrency": args.concurrency,
        "seconds": round(seconds, 2),
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(1000 * percentile(latencies, 0.50), 2),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 2),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 2),
        "mean_ms": round(1000 * statistics.fmean(latencies), 2) if latencies else None,
        "errors": tally.errors,
    }
    if tally.error_samples:
        report["error_samples"] = tally.error_samples
    print(json.dumps(report))


if __name__ == "__main__":
    main()
