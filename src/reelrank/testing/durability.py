"""`kill -9` of a real `reelrank serve` in the middle of a write load, counted: how many PUTs
were acknowledged (answered 200) and how many of those the store holds when opened again. Used
by the durability test (2 runs) and `benchmarks/store_faults.py` (more runs, 1 and 2 workers)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from reelrank.store import RatingStore


@dataclass(frozen=True)
class KillRun:
    """One run: PUTs acknowledged, of those how many the store lost, and the 5xx answers."""

    acknowledged: int
    lost: int
    server_errors: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def kill_during_writes(
    artifact: Path,
    folder: Path,
    movie_id: str,
    *,
    after_s: float,
    workers: int = 1,
    writers: int = 4,
    api_key: str = "durability-run-key-0123456789abcdef",
) -> KillRun:
    """Serve `artifact` with an SQLite store in `folder`, PUT ratings from `writers` threads,
    SIGKILL the server's whole process group after `after_s` seconds, then count."""
    store_path, key_file = folder / "store.sqlite3", folder / "api.key"
    key_file.write_text(api_key)
    port = free_port()
    command = [sys.executable, "-m", "reelrank", "serve", str(artifact), "--port", str(port)]
    command += ["--store", str(store_path), "--api-key-file", str(key_file)]
    command += ["--workers", str(workers)]
    # Its own session: the kill takes the workers too, as a machine losing power would.
    server = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    acknowledged: dict[str, float] = {}
    errors = [0]
    try:
        _wait_until_up(base, server)
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=_write_until_stopped,
                args=(base, api_key, movie_id, w, acknowledged, errors, stop),
            )
            for w in range(writers)
        ]
        for thread in threads:
            thread.start()
        time.sleep(after_s)
        os.killpg(server.pid, signal.SIGKILL)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    with RatingStore(store_path) as store:
        stored = {r.user_id: r.rating for batch in store.all_ratings() for r in batch}
    lost = sum(stored.get(user) != rating for user, rating in acknowledged.items())
    return KillRun(acknowledged=len(acknowledged), lost=lost, server_errors=errors[0])


def _wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start within 60 s")


def _write_until_stopped(
    base: str,
    api_key: str,
    movie_id: str,
    writer: int,
    acknowledged: dict[str, float],
    errors: list[int],
    stop: threading.Event,
) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=5) as client:
        for n in range(10**7):
            if stop.is_set():
                return
            user, rating = f"w{writer}-{n}", float(1 + n % 5)
            try:
                answer = client.put(f"/users/{user}/ratings/{movie_id}", json={"rating": rating})
            except httpx.HTTPError:
                return  # the server is gone
            if answer.status_code == 200:
                acknowledged[user] = rating
            elif answer.status_code >= 500:
                errors[0] += 1
