"""The page visitor's anonymous profile: a user id of its own, held in a signed cookie.

`POST /me` gives a visitor without one a new profile (`web-` and 22 random characters) in a
cookie that is HttpOnly (scripts cannot read it), SameSite=Strict (other sites' requests do not
carry it) and signed with the server's secret (HMAC-SHA256), so it cannot be forged or changed;
`GET /me` says which profile the cookie holds. The visitor may then write and read that one
user's ratings and list, and no other's. A write that rides on the cookie must also come from
this server's own pages: its `Origin` header must name this host.

The secret is `$REELRANK_COOKIE_SECRET`, else a random one kept beside the default store (made
once, readable by its owner only), so every worker and every restart signs alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel

from reelrank.service.schemas import Error
from reelrank.store.store import default_store_path

COOKIE = "reelrank_profile"
SECRET_ENV = "REELRANK_COOKIE_SECRET"
SECRET_FILE = "cookie-secret"
PREFIX = "web-"
MAX_AGE = 400 * 24 * 3600  # browsers cap cookies at about 400 days


class Me(BaseModel):
    user_id: str


def load_secret() -> bytes:
    """The cookie-signing secret (see the module's docstring)."""
    explicit = os.environ.get(SECRET_ENV)
    if explicit:
        return explicit.encode()
    path = default_store_path().with_name(SECRET_FILE)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker made it first
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(48))
    return Path(path).read_text(encoding="utf-8").strip().encode()


def app_secret(request: Request) -> bytes:
    """The app's secret, loaded on first use (so building an app writes nothing)."""
    state = request.app.state
    if getattr(state, "cookie_secret", None) is None:
        state.cookie_secret = load_secret()
    secret: bytes = state.cookie_secret
    return secret


def sign(secret: bytes, user_id: str) -> str:
    digest = hmac.new(secret, user_id.encode(), hashlib.sha256).digest()
    return f"{user_id}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def cookie_user(request: Request) -> str | None:
    """The profile a request's cookie proves, or None (no cookie, or a forged one)."""
    value = request.cookies.get(COOKIE, "")
    user_id, _, _ = value.rpartition(".")
    if not user_id.startswith(PREFIX):
        return None
    if not hmac.compare_digest(value.encode(), sign(app_secret(request), user_id).encode()):
        return None
    return user_id


def same_origin(request: Request) -> bool:
    """Whether the request's `Origin` names this server (a browser sends it on every write)."""
    origin = request.headers.get("origin")
    if not origin:
        return False
    return urlsplit(origin).netloc == request.headers.get("host", "")


me = APIRouter(tags=["profile"])


@me.get("/me", responses={404: {"model": Error, "description": "No profile cookie yet."}})
async def get_me(request: Request) -> Me:
    """The visitor's profile, from their cookie (404 without one)."""
    user_id = cookie_user(request)
    if user_id is None:
        raise HTTPException(status_code=404, detail="no profile yet: POST /me makes one")
    return Me(user_id=user_id)


@me.post("/me", responses={403: {"model": Error, "description": "Not from this server's page."}})
async def post_me(request: Request, response: Response) -> Me:
    """The visitor's profile, made on the first call: a new anonymous user id in a signed,
    HttpOnly, SameSite=Strict cookie."""
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="profiles are made from this server's page")
    user_id = cookie_user(request) or PREFIX + secrets.token_urlsafe(16)
    response.set_cookie(
        COOKIE,
        sign(app_secret(request), user_id),
        max_age=MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return Me(user_id=user_id)
