"""The FastAPI app: factory, lifespan (loads the artifact once), error handlers, limits, web page,
and the API docs (Swagger UI from the package's own copy, so they work offline).

Every response carries the security headers below, and HEAD is answered wherever GET is (load
balancers and uptime checks send it).

`create_app(recommender)` serves a recommender already in memory (tests, `serve` with one worker);
`create_app(artifact=path)` loads the artifact when the app starts, once per worker process.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import swagger_ui_bundle
import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelrank.errors import ReelrankError, StoreError, UnknownIdError
from reelrank.recommender.recommender import Recommender
from reelrank.service.admin import router as admin_router
from reelrank.service.auth import read_api_key
from reelrank.service.metrics import RequestMetrics, ServiceMetrics
from reelrank.service.metrics import router as metrics_router
from reelrank.service.profile import me
from reelrank.service.ratings import ratings
from reelrank.service.reload import artifact_version, watch
from reelrank.service.reload import router as reload_router
from reelrank.service.routes import ROUTERS
from reelrank.service.schemas import MAX_BODY_BYTES, MAX_IMPORT_BYTES
from reelrank.store.store import RatingStore

# uvicorn configures its own loggers only; start-up messages go through its error logger so they
# appear beside its own.
log = logging.getLogger("uvicorn.error")

STATIC = Path(__file__).parent / "static"
ARTIFACT_ENV = "REELRANK_ARTIFACT"  # how `serve --workers N` tells each worker what to load
THREADS_ENV = "REELRANK_TORCH_THREADS"  # and how many torch threads it may use
DEVICE_ENV = "REELRANK_DEVICE"  # and where it computes (a `--device` value)
RELOAD_ENV = "REELRANK_RELOAD_EVERY"  # how often each worker checks for a new artifact
STORE_ENV = "REELRANK_STORE"  # and which rating store it writes to
# The page loads nothing from elsewhere; the policy makes the browser enforce that.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Swagger UI starts itself with an inline script; everything else it loads is ours.
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
        "'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
}
# On every response that did not set its own: no sniffing, framing or referrers, and for anything
# but a page of ours a policy that lets a browser run nothing from it.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
DOCS_ASSETS = Path(swagger_ui_bundle.swagger_ui_path)


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
        if freeze_loaded:
            # What is loaded now lives as long as the process: out of the collector's
            # generations, a full collection no longer walks it mid-request (under 8 writing
            # clients: PUT p99 75-85 ms -> 9-10 ms, docs/benchmarks.md).
            gc.collect()
            gc.freeze()
        watcher = None
        if reload_every and source is not None:
            watcher = asyncio.create_task(watch(app, reload_every))
        try:
            yield
        finally:
            if watcher is not None:
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
    app.state.static_dir, app.state.page_headers = STATIC, PAGE_HEADERS
    for router in (*ROUTERS, ratings, me, metrics_router, reload_router, admin_router):
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


# -- errors -------------------------------------------------------------------------------------


def error_body(detail: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, **{k: v for k, v in extra.items() if v is not None}}


def add_error_handlers(app: FastAPI) -> None:
    """Input errors become 404/422 JSON with a clear message; anything else is a logged 500."""

    @app.exception_handler(UnknownIdError)
    async def unknown_id(request: Request, error: UnknownIdError) -> JSONResponse:
        return JSONResponse(error_body(str(error)), status_code=404)

    @app.exception_handler(StoreError)
    async def store_unavailable(request: Request, error: StoreError) -> JSONResponse:
        # Nothing was acknowledged: the client may send the same write again.
        log.error("store: %s", error)
        return JSONResponse(error_body(f"the rating store is unavailable: {error}"), 503)

    @app.exception_handler(ReelrankError)
    async def bad_input(request: Request, error: ReelrankError) -> JSONResponse:
        # An ambiguous title carries the titles it could mean; the page offers them to pick from.
        candidates = getattr(error, "candidates", None)
        return JSONResponse(error_body(str(error), candidates=candidates), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = field_errors(error.errors())
        summary = "; ".join(f"{describe(p['loc'])}: {p['msg']}" for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return JSONResponse(
            error_body(f"invalid request: {summary}{more}", errors=problems), status_code=422
        )

    @app.exception_handler(Exception)
    async def server_error(request: Request, error: Exception) -> JSONResponse:
        # Starlette re-raises the error after this response, so uvicorn logs its traceback;
        # the client gets no internals.
        return JSONResponse(error_body("internal error; it has been logged"), status_code=500)


# pydantic names the branch of a union (`str | int`) in the error location; people need not see it.
_UNION_BRANCH = re.compile(r"^(constrained-)?(str|int)$")
_PLAIN_MESSAGES = {"String should match pattern '\\S'": "Text should not be blank"}


def field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """pydantic's errors as `{"loc", "msg"}`, one per field: a union's branches are merged."""
    merged: dict[tuple[str | int, ...], list[str]] = {}
    for e in errors:
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and _UNION_BRANCH.match(p)))
        message = _PLAIN_MESSAGES.get(e["msg"], e["msg"]).removeprefix("Value error, ")
        if message not in merged.setdefault(loc, []):
            merged[loc].append(message)
    return [{"loc": list(loc), "msg": either(msgs)} for loc, msgs in merged.items()]


def either(messages: list[str]) -> str:
    """["Input should be a valid string", "Input should be ≥ 1"] → "Input should be a valid
    string or ≥ 1"."""
    prefix = "Input should be "
    first, *rest = messages
    rest = [m.removeprefix(prefix) if first.startswith(prefix) else m for m in rest]
    return " or ".join([first, *rest])


def describe(loc: list[str | int]) -> str:
    """`["query", "k"]` → "query parameter k"; `["body", "liked", 3]` → "body field liked[3]"."""
    where, *path = loc or ["request"]
    name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    if where == "body" and path and isinstance(path[0], int):  # a JSON syntax error's offset
        return f"body (character {path[0]})"
    kind = {"query": "query parameter", "path": "path parameter", "body": "body field"}
    return f"{kind.get(str(where), str(where))} {name}".strip()


class BodyLimit:
    """Rejects request bodies over `max_bytes` with 413 before any handler reads them.

    The body is read here (bounded) and replayed, so a chunked upload without Content-Length is
    capped too.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: dict[tuple[str, str], int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}  # (method, path) -> its own limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.larger.get((scope["method"], scope["path"]), self.max_bytes)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self.too_large(scope, receive, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await self.too_large(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        detail = f"request body too large: at most {limit} bytes"
        response = JSONResponse(error_body(detail), status_code=413)
        await response(scope, receive, send)


# -- the web page -------------------------------------------------------------------------------


def add_page(app: FastAPI) -> None:
    """The single-page UI at `/`, its script and style under `/static` (all same-origin)."""

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


# -- the API docs ------------------------------------------------------------------------------


def add_docs(app: FastAPI) -> None:
    """Swagger UI at `/docs`, its scripts and styles from the `swagger-ui-bundle-v2` package under
    `/docs/assets`: the docs work without the internet."""
    app.mount("/docs/assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )
        page.headers.update(DOCS_HEADERS)
        return page


# -- every response ---------------------------------------------------------------------------


class HeadAndSecurityHeaders:
    """HEAD answered as GET without the body (same status and headers, Content-Length included),
    and `SECURITY_HEADERS` added to every response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, send_hardened)
