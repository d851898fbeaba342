"""What every request and response goes through: input errors answered as JSON with a readable
`detail` (404, 422, 503; anything else a logged 500), bodies over their limit refused (413) before
a handler reads them, HEAD answered as GET, and the security headers on every response."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelrank.errors import ConflictError, ReelrankError, StoreError, UnknownIdError

log = logging.getLogger("uvicorn.error")

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


# -- errors -------------------------------------------------------------------------------------


def error_body(detail: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, **{k: v for k, v in extra.items() if v is not None}}


def add_error_handlers(app: FastAPI) -> None:
    """Input errors become 404/409/422 JSON with a clear message; anything else is a logged 500."""

    @app.exception_handler(UnknownIdError)
    async def unknown_id(request: Request, error: UnknownIdError) -> JSONResponse:
        return JSONResponse(error_body(str(error)), status_code=404)

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, error: ConflictError) -> JSONResponse:
        return JSONResponse(error_body(str(error)), status_code=409)

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
