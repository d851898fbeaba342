"""`serve`: run the app under uvicorn, in one process or in `workers` processes."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from pathlib import Path
from typing import Any

import torch
import uvicorn
from uvicorn.supervisors import Multiprocess

from reelrank.recommender.recommender import Recommender
from reelrank.service.app import (
    ARTIFACT_ENV,
    DEVICE_ENV,
    RELOAD_ENV,
    STORE_ENV,
    THREADS_ENV,
    create_app,
)
from reelrank.service.auth import API_KEY_ENV
from reelrank.store.store import RatingStore

log = logging.getLogger("reelrank.service")

LOOPBACK = "127.0.0.1"


def serve(
    artifact: Path,
    *,
    host: str = LOOPBACK,
    port: int = 8000,
    workers: int = 1,
    threads: int = 1,
    recommender: Recommender | None = None,
    device: torch.device | None = None,
    log_level: str = "info",
    store: str | None = None,
    api_key: str | None = None,
    reload_every: float = 0.0,
) -> None:
    """Serve `artifact` (or `recommender`, already loaded from it) until interrupted, computing
    on `device` (the CPU by default; each worker moves its own copy there). `store` is the
    rating store's URL (`store_url`); each worker opens its own connection to it. `api_key` is
    the operator's key, which writing needs. Every `reload_every` seconds (0: never) each
    worker takes up a new artifact saved at `artifact` (see `reelrank.service.reload`).

    `threads` is torch's intra-op threads per worker: requests are small, so one thread per process
    and more `workers` use the cores better than threads fighting over them.
    """
    if workers < 1 or threads < 1:
        raise ValueError(f"workers and threads must be at least 1, got {workers} and {threads}")
    if not is_loopback(host):
        log.warning("serving on %s: reachable from other machines, with no authentication", host)
    os.environ[ARTIFACT_ENV] = str(Path(artifact).resolve())
    os.environ[THREADS_ENV] = str(threads)
    os.environ[DEVICE_ENV] = str(device or "cpu")
    if store is not None:
        os.environ[STORE_ENV] = store
    if api_key is not None:
        os.environ[API_KEY_ENV] = api_key  # the workers' own environment, never a file
    os.environ[RELOAD_ENV] = str(reload_every)
    options: dict[str, Any] = dict(host=host, port=port, log_level=log_level, access_log=False)
    if workers == 1:
        torch.set_num_threads(threads)
        opened = RatingStore(store) if store is not None else None
        app = (
            create_app(
                recommender.to(device or "cpu"),
                device=device,
                store=opened,
                api_key=api_key,
                freeze_loaded=True,
                served_from=Path(artifact),
                reload_every=reload_every,
            )
            if recommender
            else create_app(
                artifact=Path(artifact),
                device=device,
                store=opened,
                api_key=api_key,
                freeze_loaded=True,
                reload_every=reload_every,
            )
        )
        uvicorn.run(app, **options)
    else:
        # Each worker is a fresh process: it rebuilds the app from the environment and loads the
        # artifact in its own lifespan.
        config = uvicorn.Config(
            "reelrank.service.app:app_from_env", factory=True, workers=workers, **options
        )
        sock = config.bind_socket()
        # uvicorn's shared listening socket lacks TCP_NODELAY (asyncio sets it only on sockets it
        # creates), so each response's second write waits for a delayed ACK: +40 ms per request.
        # Accepted connections inherit the option from the listener.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Multiprocess(config, sockets=[sock]).run()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
