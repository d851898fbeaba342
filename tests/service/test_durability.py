"""`kill -9` of a real `reelrank serve` process in the middle of a write load loses no write it
acknowledged: every PUT answered 200 is in the store when it is opened again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from reelrank.recommender.recommender import Recommender
from reelrank.store import RatingStore

KEY = "durability-test-key-0123456789abcdef"
WRITERS = 4
RUNS = 2  # benchmarks/store_faults.py runs more


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_until_stopped(
    base: str, movie: str, writer: int, acknowledged: dict[str, float], stop: threading.Event
) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=5) as client:
        for n in range(100_000):
            if stop.is_set():
                return
            user, rating = f"w{writer}-{n}", float(1 + n % 5)
            try:
                answer = client.put(f"/users/{user}/ratings/{movie}", json={"rating": rating})
            except httpx.HTTPError:
                return  # the server is gone
            if answer.status_code == 200:
                acknowledged[user] = rating


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_9_during_writes_loses_no_acknowledged_write(
    run: int, two_stage_artifact: Path, two_stage: Recommender, tmp_path: Path
) -> None:
    store_path, key_file = tmp_path / "store.sqlite3", tmp_path / "api.key"
    key_file.write_text(KEY)
    port = _free_port()
    command = [sys.executable, "-m", "reelrank", "serve", str(two_stage_artifact)]
    command += ["--store", str(store_path), "--api-key-file", str(key_file), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        movie = str(two_stage.catalog.table.movie_id[1])
        acknowledged: dict[str, float] = {}
        stop = threading.Event()
        writers = [
            threading.Thread(target=_write_until_stopped, args=(base, movie, w, acknowledged, stop))
            for w in range(WRITERS)
        ]
        for thread in writers:
            thread.start()
        time.sleep(1.0 + 0.5 * run)  # a different moment each run
        os.kill(server.pid, signal.SIGKILL)
        stop.set()
        for thread in writers:
            thread.join(timeout=10)
    finally:
        server.kill()
        server.wait(timeout=10)
    assert len(acknowledged) > 20, "too few writes to tell anything"
    with RatingStore(store_path) as store:
        stored = {r.user_id: r.rating for batch in store.all_ratings() for r in batch}
    lost = {user for user, rating in acknowledged.items() if stored.get(user) != rating}
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged writes were lost"
