"""Taking up a new model without a failed request.

A server started from an artifact keeps its path. When the artifact there changes (a retrain
saved over it: reelrank's saves replace a directory in one rename) the server loads the new one
*beside* the old, checks it (every file against the manifest, the model's own bounds) and
prepares it fully, then switches with one assignment. A request holds the recommender it began
with, so requests in flight finish on the old model and every later one gets the new. An artifact
that cannot be loaded is refused and the old model keeps serving. The rating store is not touched:
writes go on throughout.

It happens on `POST /admin/reload` (with the operator's key) and, with `--reload-every SECONDS`,
whenever a worker sees that the artifact's version (its manifest's SHA-256) changed; with
`--workers N` each worker checks for itself, so all of them take it up within that interval.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from reelrank.errors import ReelrankError
from reelrank.files import sha256_file
from reelrank.recommender.recommender import Recommender
from reelrank.service.auth import Operator
from reelrank.service.schemas import Error
from reelrank.service.store_movies import with_store_movies

log = logging.getLogger("reelrank.service")


class Reloaded(BaseModel):
    reloaded: bool = Field(description="Whether a new model is served now.")
    version: str = Field(description="The version served now.")
    previous: str | None = Field(description="The version served before, if it changed.")


class ReloadRefused(ReelrankError):
    """The artifact at the served path cannot be served; the old model goes on."""


def artifact_version(path: Path) -> str:
    """A served artifact's version: the start of its manifest's SHA-256 (the manifest holds every
    other file's hash, so any change to the model changes it)."""
    return sha256_file(path / "manifest.json")[:12]


def _load(path: Path, device: Any) -> tuple[Recommender, str, float]:
    """Load, check and prepare the artifact at `path` (on a worker thread)."""
    version = artifact_version(path)
    saved = (path / "manifest.json").stat().st_mtime
    recommender = Recommender.load(path).to(device or "cpu")
    recommender.prepare_explanations()  # its first requests as fast as any other
    if artifact_version(path) != version:  # saved over again while this one loaded
        raise ReloadRefused("the artifact changed while it was loading; the next try takes it")
    return recommender, version, saved


async def reload(app: FastAPI) -> Reloaded:
    """Serve the artifact now at the served path if its version differs; `ReloadRefused` (the
    old model still serving) if it cannot be loaded."""
    state = app.state
    path: Path | None = state.artifact_path
    if path is None:
        raise HTTPException(
            status_code=409,
            detail="this server serves a model from memory, not from an artifact: nothing to "
            "reload",
        )
    async with state.reload_lock:  # one load at a time
        current: str = state.model_version
        try:
            version = await run_in_threadpool(artifact_version, path)
            if version == current:
                return Reloaded(reloaded=False, version=current, previous=None)
            new, version, saved = await run_in_threadpool(_load, path, state.device)
            if state.store is not None:  # the movies added since serve on the new model too
                fingerprint = await run_in_threadpool(state.store.movies.fingerprint)
                new = await run_in_threadpool(with_store_movies, new, state.store)
                state.movies_fingerprint = fingerprint
        except (ReelrankError, OSError) as error:
            state.metrics.swaps.labels("refused", state.metrics.worker).inc()
            raise ReloadRefused(
                f"the artifact at {path} was refused, and version {current} goes on serving: "
                f"{error}"
            ) from None
        if state.freeze_loaded:
            gc.unfreeze()  # the old model may be collected once its last request ends
        # The switch: requests that began hold the old recommender; later ones get the new.
        state.recommender, state.model_version = new, version
        state.metrics.describe_model(version, new.config.preset, saved)
        state.metrics.swaps.labels("taken", state.metrics.worker).inc()
        if state.freeze_loaded:
            gc.collect()
            gc.freeze()
        log.info("now serving %s (version %s, was %s)", path, version, current)
        return Reloaded(reloaded=True, version=version, previous=current)


async def watch(app: FastAPI, every: float) -> None:
    """Check the served artifact every `every` seconds and take up a new version; a refused one
    is logged once and tried again when it changes."""
    refused: str | None = None
    while True:
        await asyncio.sleep(every)
        try:
            await reload(app)
            refused = None
        except ReloadRefused as error:
            message = str(error)
            if message != refused:
                log.warning("%s", message)
                refused = message


router = APIRouter(tags=["operator"])


@router.post(
    "/admin/reload",
    responses={
        401: {"model": Error, "description": "No valid API key was sent."},
        403: {"model": Error, "description": "This server has no API key configured."},
        409: {"model": Error, "description": "The model was not loaded from an artifact."},
        422: {"model": Error, "description": "The new artifact was refused; the old one serves."},
    },
)
async def post_reload(request: Request, _: Operator) -> Reloaded:
    """Take up the artifact now at the served path (answered once it serves), or say why not."""
    return await reload(request.app)
