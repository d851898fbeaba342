"""The write API: record, delete and import ratings in the store, with the operator's key (or,
for one user's ratings, as the page visitor whose profile it is).

A write is answered only after the store has committed it; the same PUT twice is one rating.
Ratings outside the data's scale are 422, unknown movies 404, a store that cannot write 503.
New user ids are welcome; a user id of the data set extends that user's history.

These routes are plain `def`s: FastAPI runs them in its thread pool, so a commit waiting on the
disk (or on another worker's write lock) never blocks the event loop.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response

from reelrank.recommender.recommender import Recommender
from reelrank.service import schemas
from reelrank.service.auth import Operator, Writer
from reelrank.service.routes import Model, MovieIdPath, known_movie_id
from reelrank.service.schemas import BODY_ERROR_RESPONSES, ERROR_RESPONSES, MAX_ID, MAX_IMPORT
from reelrank.store.store import RatingStore, StoredRating

WRITE_RESPONSES = {
    **ERROR_RESPONSES,
    401: {"model": schemas.Error, "description": "No valid API key was sent."},
    403: {"model": schemas.Error, "description": "This server has no API key configured."},
    503: {"model": schemas.Error, "description": "The store cannot be written just now."},
}


async def get_store(request: Request) -> RatingStore:
    """The store the app opened; 503 where it has none (`async`: no thread-pool hop)."""
    store: RatingStore | None = request.app.state.store
    if store is None:
        raise HTTPException(
            status_code=503, detail="this server keeps no rating store: start it with --store"
        )
    return store


Store = Annotated[RatingStore, Depends(get_store)]
WrittenUserId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ID,
        pattern=r"^[^\x00-\x1f\x7f-\x9f]+$",
        description="A user id: one of the data set's, or a new one.",
    ),
]

ratings = APIRouter(tags=["ratings"], responses=WRITE_RESPONSES)


@ratings.put("/users/{user_id}/ratings/{movie_id}", responses=BODY_ERROR_RESPONSES)
async def put_rating(
    request: Request,
    model: Model,
    store: Store,
    _: Writer,
    user_id: WrittenUserId,
    movie_id: MovieIdPath,
    body: schemas.RatingWrite,
) -> schemas.StoredRating:
    """Record a user's rating of a movie (replacing an earlier one); answered once committed."""
    movie_id = known_movie_id(model, movie_id)
    model.check_rating(body.rating)
    # Awaited, not run on a worker thread: the loop serves others while the commit runs.
    stored = await store.put_async(user_id, movie_id, body.rating, body.timestamp)
    request.app.state.metrics.written.inc()
    return to_schema(model, stored)


@ratings.delete("/users/{user_id}/ratings/{movie_id}", status_code=204)
def delete_rating(
    request: Request,
    model: Model,
    store: Store,
    _: Writer,
    user_id: WrittenUserId,
    movie_id: MovieIdPath,
) -> Response:
    """Remove a user's stored rating of a movie (the data set's own ratings stay)."""
    movie_id = known_movie_id(model, movie_id)
    if not store.delete(user_id, movie_id):
        raise HTTPException(
            status_code=404, detail=f"user {user_id} has no stored rating of movie {movie_id}"
        )
    request.app.state.metrics.deleted.inc()
    return Response(status_code=204)


@ratings.post("/ratings", responses={**BODY_ERROR_RESPONSES, 413: {"model": schemas.Error}})
def import_ratings(
    request: Request, model: Model, store: Store, _: Operator, body: schemas.RatingsImport
) -> schemas.Imported:
    """Record many ratings at once, all or none."""
    if len(body.ratings) > MAX_IMPORT:
        raise HTTPException(
            status_code=413,
            detail=f"at most {MAX_IMPORT} ratings per request, got {len(body.ratings)}: "
            "send them in parts",
        )
    stamp = int(time.time())  # one time for every row given none
    rows = []
    for row in body.ratings:
        model.check_rating(row.rating)
        movie_id = known_movie_id(model, row.movie_id)
        when = stamp if row.timestamp is None else row.timestamp
        rows.append(StoredRating(row.user_id, movie_id, row.rating, when))
    imported = store.put_many(rows)
    request.app.state.metrics.written.inc(imported)
    return schemas.Imported(imported=imported)


def to_schema(model: Recommender, row: StoredRating) -> schemas.StoredRating:
    return schemas.StoredRating(
        user_id=row.user_id,
        movie_id=row.movie_id,
        movie_title=model.catalog.id_to_title[row.movie_id],
        rating=row.rating,
        timestamp=row.timestamp,
    )
