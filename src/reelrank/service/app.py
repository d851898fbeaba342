"""The FastAPI app: its factory and lifespan (loads the artifact once, takes up new ones), put
together from the routers, `responses` (errors, limits, headers) and `pages` (the web pages, the
API docs).

`create_app(recommender)` serves a recommender already in memory (tests, `serve` with one worker);
`create_app(artifact=path)` loads the artifact when the app starts, once per worker process.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
from fastapi import FastAPI

from reelrank.errors import ReelrankError
from reelrank.recommender.recommender import Recommender
from reelrank.service.admin import router as admin_router
from reelrank.service.auth import read_api_key
from reelrank.service.catalogue import refresh, watch_movies
from reelrank.service.catalogue import router as catalogue
from reelrank.service.metrics import RequestMetrics, ServiceMetrics
from reelrank.service.metrics import router as metrics_router
from reelrank.service.pages import add_docs, add_page
from reelrank.service.profile import me
from reelrank.service.ratings import ratings
from reelrank.service.reload import artifact_version, watch
from reelrank.service.reload import router as reload_router
from reelrank.service.responses import BodyLimit, HeadAndSecurityHeaders, add_error_handlers
from reelrank.service.routes import ROUTERS
from reelrank.service.schemas import MAX_BODY_BYTES, MAX_IMPORT_BYTES
from reelrank.store.store import RatingStore

# uvicorn configures its own loggers only; start-up messages go through its error logger so they
# appear beside its own.
log = logging.getLogger("uvicorn.error")

ARTIFACT_ENV = "REELRANK_ARTIFACT"  # how `serve --workers N` tells each worker what to load
THREADS_ENV = "REELRANK_TORCH_THREADS"  # and how many torch threads it may use
DEVICE_ENV = "REELRANK_DEVICE"  # and where it computes (a `--device` value)
RELOAD_ENV = "REELRANK_RELOAD_EVERY"  # how often each worker checks for a new artifact
STORE_ENV = "REELRANK_STORE"  # and which rating store it writes to


def create_app(
    recommender: Recommender | None = None,
    *,
    artifact: Path | None = None,
    device: torch.device | None = None,
    store: RatingStore | None = None,
    api_key: str | None = None,
    freeze_loaded: bool = False,
    served_from: Path | None = None,
    reload_every: float = 0.0,
) -> FastAPI:
    """The service app for a recommender in memory, or for an artifact loaded at start-up (and
    moved to `device`, the CPU by default). With a `store`, people's ratings are written there
    (with the operator's `api_key`) and reach their lists at once; without one the write API
    answers 503. `freeze_loaded` (what `reelrank serve` sets) exempts everything alive at
    start-up from garbage collection (`gc.freeze`): for a process that only serves.
    `served_from` names the artifact a given `recommender` was loaded from. A server of an
    artifact takes up a new one saved there on `POST /admin/reload`, and by itself every
    `reload_every` seconds (0: never; see `reload`)."""
    if (recommender is None) == (artifact is None):
        raise ValueError("create_app needs exactly one of a recommender or an artifact path")
    if reload_every < 0:
        raise ValueError(f"reload_every must be 0 (off) or more seconds, got {reload_every}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if artifact is not None:
            try:
                app.state.recommender = Recommender.load(artifact).to(device or "cpu")
            except ReelrankError as error:
                # uvicorn then reports "Application startup failed" and exits non-zero.
                log.error("cannot serve %s: %s", artifact, error)
                raise
            log.info("loaded %s", artifact)
        source: Path | None = app.state.artifact_path
        if source is not None:
            app.state.model_version = artifact_version(source)
            app.state.metrics.describe_model(
                app.state.model_version,
                app.state.recommender.config.preset,
                (source / "manifest.json").stat().st_mtime,
            )
        # The one-off work behind "because you liked", done before the first request.
        start = time.perf_counter()
        app.state.recommender.prepare_explanations()
        log.info("explanations ready in %.1f s", time.perf_counter() - start)
        if store is not None:
            log.info("ratings are stored in %s", store.where)
            await refresh(app)  # the movies added, edited and taken down since training
        if freeze_loaded:
            # What is loaded now lives as long as the process: out of the collector's
            # generations, a full collection no longer walks it mid-request (under 8 writing
            # clients: PUT p99 75-85 ms -> 9-10 ms, docs/benchmarks.md).
            gc.collect()
            gc.freeze()
        watchers = []
        if reload_every and source is not None:
            watchers.append(asyncio.create_task(watch(app, reload_every)))
        if store is not None:
            watchers.append(asyncio.create_task(watch_movies(app)))
        try:
            yield
        finally:
            for watcher in watchers:
                watcher.cancel()
            if store is not None:
                store.close()

    app = FastAPI(
        title="reelrank",
        version=package_version(),
        summary="Movie recommendations (retrieval + ranking) on MovieLens 100k.",
        lifespan=lifespan,
        docs_url=None,  # served by `add_docs`, from the package rather than a CDN
        redoc_url=None,
    )
    app.state.metrics = ServiceMetrics()
    app.state.model_version = None
    source = artifact if artifact is not None else served_from
    app.state.artifact_path = Path(source) if source is not None else None
    app.state.device = device
    app.state.freeze_loaded = freeze_loaded
    app.state.reload_lock = asyncio.Lock()
    if recommender is not None:
        app.state.recommender = recommender  # usable at once, even by clients without lifespan
        app.state.metrics.describe_model("in-memory", recommender.config.preset, None)
    app.state.store = store
    if store is not None:
        app.state.metrics.watch_store(store)
    app.state.api_key = api_key
    app.state.movies_fingerprint = None
    # The catalogue's routes first: /movies/new before /movies/{movie_id}.
    for router in (catalogue, *ROUTERS, ratings, me, metrics_router, reload_router, admin_router):
        app.include_router(router)
    add_error_handlers(app)
    add_page(app)
    add_docs(app)
    app.add_middleware(
        BodyLimit, max_bytes=MAX_BODY_BYTES, larger={("POST", "/ratings"): MAX_IMPORT_BYTES}
    )
    # Outside the body limit, so a 413 is counted; inside the HEAD rewrite, which copies the
    # scope the router names the route in.
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    app.add_middleware(HeadAndSecurityHeaders)  # outermost: errors of the others get them too
    return app


def package_version() -> str:
    try:
        return version("reelrank")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (how `serve --workers N` starts each worker)."""
    artifact = os.environ.get(ARTIFACT_ENV)
    if not artifact:
        raise RuntimeError(f"set {ARTIFACT_ENV} to the artifact directory to serve")
    threads = os.environ.get(THREADS_ENV)
    if threads:
        torch.set_num_threads(int(threads))
    device = os.environ.get(DEVICE_ENV)
    location = os.environ.get(STORE_ENV)
    return create_app(
        artifact=Path(artifact),
        device=torch.device(device) if device else None,
        store=RatingStore(location) if location else None,
        api_key=read_api_key(),
        freeze_loaded=True,
        reload_every=float(os.environ.get(RELOAD_ENV) or 0),
    )
