"""Who may do what: the operator's API key, sent as `Authorization: Bearer KEY`, and the page
visitor's own profile (a signed cookie, `profile`).

The key comes from a file (`serve --api-key-file FILE`) or `$REELRANK_API_KEY`; it is compared
in constant time. Writing, and reading stored ratings, need it: without a configured key the
write API answers 403, without a valid `Authorization` header 401. The data set's own ratings stay
public.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from reelrank.errors import ReelrankError
from reelrank.service.profile import cookie_user, same_origin

API_KEY_ENV = "REELRANK_API_KEY"
MIN_KEY_LENGTH = 16


def read_api_key(path: Path | None = None) -> str | None:
    """The operator's key: the first line of `path`, else `$REELRANK_API_KEY`, else None."""
    if path is not None:
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise ReelrankError(f"cannot read the API key file {path}: {error}") from None
    else:
        key = os.environ.get(API_KEY_ENV, "").strip()
        if not key:
            return None
    if len(key) < MIN_KEY_LENGTH or not key.isprintable():
        raise ReelrankError(
            f"the API key must be at least {MIN_KEY_LENGTH} printable characters "
            "(e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return key


def is_operator(request: Request) -> bool:
    """Whether the request carries the operator's key."""
    key: str | None = request.app.state.api_key
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if key is None or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), key.encode())


async def require_operator(request: Request) -> None:
    """A dependency: the request must carry the operator's key."""
    if request.app.state.api_key is None:
        raise HTTPException(
            status_code=403,
            detail="this needs the operator's API key, and this server has none: start it with "
            f"--api-key-file FILE or {API_KEY_ENV}",
        )
    if not is_operator(request):
        raise HTTPException(
            status_code=401,
            detail="send the operator's API key as 'Authorization: Bearer KEY'",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def require_writer(request: Request) -> None:
    """A dependency for writes to one user's ratings (the path's `user_id`): the operator's key,
    or the page visitor whose signed cookie holds that user, from this server's own page
    (`Origin`)."""
    user_id = request.path_params.get("user_id")
    visitor = cookie_user(request)
    if visitor is not None and not is_operator(request):
        if visitor != user_id:
            raise HTTPException(
                status_code=403, detail="a visitor may write only their own ratings"
            )
        if not same_origin(request):
            raise HTTPException(
                status_code=403, detail="cross-site request: ratings are written from this page"
            )
        return
    await require_operator(request)


def may_read(request: Request, user_id: str) -> bool:
    """Whether the request may read `user_id`'s stored ratings: the operator, or its owner."""
    return is_operator(request) or cookie_user(request) == user_id


Operator = Annotated[None, Depends(require_operator)]
Writer = Annotated[None, Depends(require_writer)]
