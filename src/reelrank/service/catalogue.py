"""The catalogue at run time: movies added after training (`POST /movies`), edited (`PATCH`) and
taken down (`DELETE`), with the operator's key; the newest added ones (`GET /movies/new`, public).

Each change is committed to the store first, then the server serves it: the trained recommender
grown with the store's whole movie table (`Recommender.with_movies`) replaces the served one in
one assignment, so a request sees the catalogue before or after, never half of it. Ratings of an
added movie refine it the same way. Other workers (`serve --workers N`) see a change within
`MOVIE_POLL_SECONDS`: each polls the store's fingerprint of its movies.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import Field, StringConstraints

from reelrank.errors import ReelrankError, UnknownIdError
from reelrank.recommender.recommender import Recommender
from reelrank.service import schemas
from reelrank.service.auth import Operator
from reelrank.service.ratings import WRITE_RESPONSES, Store
from reelrank.service.routes import Model, MovieIdPath
from reelrank.service.schemas import BODY_ERROR_RESPONSES, Genre
from reelrank.service.store_movies import with_store_movies
from reelrank.store.movies import YEARS
from reelrank.store.schema import MAX_OVERVIEW, MAX_TITLE
from reelrank.store.store import RatingStore

log = logging.getLogger("reelrank.service")

MOVIE_POLL_SECONDS = 1.0  # how often a worker looks for movies another one added
NEWEST = 20  # movies `GET /movies/new` lists by default

# Printable, and not blank (the store refuses the rest too).
Title = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=MAX_TITLE,
        pattern=r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
    ),
]
ReleaseYear = Annotated[int, Field(ge=YEARS[0], le=YEARS[1])]
Overview = Annotated[str, StringConstraints(max_length=MAX_OVERVIEW)]


class NewMovie(schemas._Request):
    """A movie to add: its title, genres and release year (and, optionally, an overview)."""

    title: Title = Field(description="The title, without the year: 'Dune: Part Three'.")
    genres: list[Genre] = Field(min_length=1, max_length=19)
    year: ReleaseYear | None = None
    overview: Overview | None = None


class MovieEdit(schemas._Request):
    """What to change of a movie (what is left out stays); `hidden` takes it down or back."""

    title: Title | None = None
    genres: list[Genre] | None = Field(default=None, min_length=1, max_length=19)
    year: ReleaseYear | None = None
    overview: Overview | None = None
    hidden: bool | None = None


class AddedMovie(schemas.Movie):
    overview: str | None = None
    hidden: bool = False
    added_at: int | None = None


class NewestMovies(schemas._Request):
    movies: list[AddedMovie]


async def refresh(app: FastAPI, *, trained: Recommender | None = None) -> None:
    """Serve the store's movies now (on `trained` where given: a model just loaded, else the
    one serving); the store's fingerprint is kept so `watch_movies` knows what is served."""
    store: RatingStore | None = app.state.store
    if store is None:
        return
    base = trained if trained is not None else app.state.recommender
    fingerprint = await run_in_threadpool(store.movies.fingerprint)
    grown = await run_in_threadpool(with_store_movies, base, store)
    app.state.recommender, app.state.movies_fingerprint = grown, fingerprint


async def watch_movies(app: FastAPI) -> None:
    """Take up what another worker wrote to the store's movies (and their ratings)."""
    while True:
        await asyncio.sleep(MOVIE_POLL_SECONDS)
        try:
            fingerprint = await run_in_threadpool(app.state.store.movies.fingerprint)
            if fingerprint != app.state.movies_fingerprint:
                async with app.state.reload_lock:
                    await refresh(app)
        except ReelrankError as error:  # the store is away: the catalogue served stays
            log.warning("cannot read the store's movies: %s", error)


def described(model: Recommender, movie_id: str, store_row: Any = None) -> AddedMovie:
    info = model.catalog.movie_info(movie_id)
    return AddedMovie(
        **info.to_dict(),
        overview=None if store_row is None else store_row.overview,
        hidden=model.catalog.is_hidden(model.catalog.resolve_movie(movie_id)),
        added_at=None if store_row is None or not store_row.added else store_row.created_at,
    )


router = APIRouter(prefix="/movies", tags=["movies"])
ADMIN_RESPONSES = {**WRITE_RESPONSES, **BODY_ERROR_RESPONSES}


@router.get("/new", responses=schemas.ERROR_RESPONSES)
async def newest_movies(
    model: Model, limit: Annotated[int, Query(ge=1, le=schemas.MAX_PAGE)] = NEWEST
) -> NewestMovies:
    """The movies added since training, newest first (taken-down ones left out)."""
    catalog = model.catalog
    rows = [r for r in range(catalog.movies.size - 1, catalog.trained - 1, -1)]
    shown = [r for r in rows if not catalog.hidden[r]][:limit]
    return NewestMovies(
        movies=[AddedMovie(**catalog.info(r).to_dict()) for r in shown],
    )


@router.post("", status_code=201, responses={**ADMIN_RESPONSES, 409: {"model": schemas.Error}})
async def add_movie(
    request: Request, response: Response, model: Model, store: Store, _: Operator, body: NewMovie
) -> AddedMovie:
    """Add a movie (answered once it is stored and served): it is in search, filters, `similar`
    and lists at once, and its ratings refine it as they arrive."""
    app = request.app
    async with app.state.reload_lock:
        model = app.state.recommender
        model.catalog.check_new_title(body.title, body.year)
        first_id = model.catalog.next_movie_id()
        stored = await run_in_threadpool(
            lambda: store.movies.add(
                body.title, body.genres, body.year, overview=body.overview, first_id=first_id
            )
        )
        await refresh(app)
    response.headers["Location"] = f"/movies/{stored.movie_id}"
    return described(app.state.recommender, stored.movie_id, stored)


@router.patch("/{movie_id}", responses=ADMIN_RESPONSES)
async def edit_movie(
    request: Request,
    model: Model,
    store: Store,
    _: Operator,
    movie_id: MovieIdPath,
    body: MovieEdit,
) -> AddedMovie:
    """Change a movie's title, genres, year or overview, or take it down (`hidden`: true) or
    back; served at once."""
    app = request.app
    async with app.state.reload_lock:
        model = app.state.recommender
        if movie_id not in model.catalog.id_to_title:
            raise UnknownIdError(f"unknown movie id {movie_id!r}: nothing to edit")
        if body.title is not None:  # a title another movie has is refused before it is kept
            row = model.catalog.resolve_movie(movie_id)
            year = body.year if body.year is not None else model.catalog.info(row).year
            model.catalog.check_new_title(body.title, year, row=row)
        stored = await run_in_threadpool(
            lambda: store.movies.edit(movie_id, **body.model_dump(exclude_none=True))
        )
        await refresh(app)
    return described(app.state.recommender, movie_id, stored)


@router.delete("/{movie_id}", status_code=204, responses=WRITE_RESPONSES)
async def take_down(
    request: Request, model: Model, store: Store, _: Operator, movie_id: MovieIdPath
) -> Response:
    """Take a movie down: from now on no list, search or page shows it (its ratings are kept;
    `PATCH` with `hidden: false` brings it back)."""
    app = request.app
    async with app.state.reload_lock:
        if movie_id not in app.state.recommender.catalog.id_to_title:
            raise UnknownIdError(f"unknown movie id {movie_id!r}: nothing to take down")
        await run_in_threadpool(lambda: store.movies.edit(movie_id, hidden=True))
        await refresh(app)
    return Response(status_code=204)
