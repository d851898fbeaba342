"""The HTTP endpoints, one router per resource; each is a thin call into `Recommender`.

Endpoints are `async def` on purpose: each call is short CPU-bound work (a recommendation about
1 ms; a title search a few ms; an unknown title's suggestions up to ~25 ms), so a hop to the thread
pool would cost about as much as it saves while the GIL serialises the work anyway. Throughput
scales with `--workers` (processes), not threads.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import StringConstraints
from starlette.concurrency import run_in_threadpool

from reelrank.data.catalog.catalog import ListFilter
from reelrank.errors import StoreError, UnknownIdError
from reelrank.recommender.explanations import liked_mask
from reelrank.recommender.lists import ListOrder
from reelrank.recommender.lists import Recommendation as RecommenderItem
from reelrank.recommender.recommender import Recommender
from reelrank.service import schemas
from reelrank.service.auth import may_read
from reelrank.service.profile import cookie_user
from reelrank.service.schemas import (
    BODY_ERROR_RESPONSES,
    DEFAULT_K,
    DEFAULT_SEARCH,
    ERROR_RESPONSES,
    MAX_ID,
    MAX_K,
    MAX_OFFSET,
    MAX_PAGE,
    MAX_QUERY,
    MAX_SEARCH,
    ORDER_HELP,
)
from reelrank.store.store import storable_id
from reelrank.types import GENRES


async def get_recommender(request: Request) -> Recommender:
    """The recommender the app loaded at start-up (see `app.lifespan`).

    `async` so FastAPI calls it inline; a plain `def` dependency costs a thread-pool hop.
    """
    recommender: Recommender = request.app.state.recommender
    return recommender


Model = Annotated[Recommender, Depends(get_recommender)]
KQuery = Annotated[int, Query(ge=1, le=MAX_K, description=f"How many movies (1..{MAX_K}).")]
UserIdPath = Annotated[
    str, Path(min_length=1, max_length=MAX_ID, description="A user id from the data, e.g. 9.")
]
MovieIdPath = Annotated[
    str, Path(min_length=1, max_length=MAX_ID, description="A MovieLens movie id, e.g. 50.")
]

health = APIRouter(tags=["health"])
movies = APIRouter(prefix="/movies", tags=["movies"], responses=ERROR_RESPONSES)
users = APIRouter(prefix="/users", tags=["users"], responses=ERROR_RESPONSES)
recommendations = APIRouter(tags=["recommendations"], responses=ERROR_RESPONSES)
score = APIRouter(tags=["score"], responses=ERROR_RESPONSES)


@health.get("/health")
async def get_health(request: Request, model: Model) -> schemas.Health:
    """Liveness, which model is loaded, and whether the rating store answers."""
    store = request.app.state.store
    state: Literal["none", "ok", "unavailable"] = "none"
    if store is not None:
        try:
            await run_in_threadpool(store.ping)
            state = "ok"
        except StoreError:
            state = "unavailable"
    return schemas.Health(
        store=store is not None,
        store_state=state,
        model_version=request.app.state.model_version,
        preset=model.config.preset,
        two_stage=model.two_stage,
        retrieval=model.retrieval is not None,
        users=len(model.catalog.users),
        movies=len(model.catalog.movies),
        genres=list(GENRES[1:]),  # all but "unknown"
    )


@movies.get("")
async def search_movies(
    model: Model,
    query: Annotated[
        str, Query(max_length=MAX_QUERY, description="Part of a title, any case; year optional.")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_SEARCH)] = DEFAULT_SEARCH,
) -> schemas.MovieSearch:
    """Title search, forgiving like the CLI ("usual suspects" finds "Usual Suspects, The")."""
    found = model.catalog.search_movies(query, limit=limit)
    return schemas.MovieSearch(query=query, movies=[schemas.Movie(**m.to_dict()) for m in found])


@movies.get("/to-rate")
async def movies_to_rate(
    request: Request,
    model: Model,
    k: Annotated[int, Query(ge=1, le=MAX_SEARCH, description="How many movies.")] = 12,
) -> schemas.MoviesToRate:
    """Movies to offer a new visitor to rate, so their list can become personal: ones many
    people rated, of varied genres. The page's visitor (by their profile cookie) is not offered
    the movies they already rated."""
    user_id = cookie_user(request) if request.app.state.store is not None else None
    rated: list[str] = []
    if user_id is not None:
        stored = await run_in_threadpool(request.app.state.store.ratings_of, user_id)
        rated = [row.movie_id for row in stored if row.movie_id in model.catalog.id_to_title]
    found = model.movies_to_rate(k, exclude=rated)
    return schemas.MoviesToRate(movies=[schemas.Movie(**m.to_dict()) for m in found])


@movies.get("/{movie_id}")
async def get_movie(model: Model, movie_id: MovieIdPath) -> schemas.Movie:
    """One movie by its MovieLens id."""
    return schemas.Movie(**model.catalog.movie_info(known_movie_id(model, movie_id)).to_dict())


@movies.get("/{movie_id}/similar")
async def similar_movies(
    model: Model, movie_id: MovieIdPath, k: KQuery = DEFAULT_K
) -> schemas.SimilarMovies:
    """The movies nearest to one movie, by `retrieval_score` (no rating is predicted)."""
    movie_id = known_movie_id(model, movie_id)
    return schemas.SimilarMovies(
        movie=schemas.Movie(**model.catalog.movie_info(movie_id).to_dict()),
        k=k,
        similar=to_schema(model.similar(movie_id, k)),
    )


@users.get("")
async def list_users(
    model: Model,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> schemas.UserList:
    """User ids known to the model, in vocabulary order, a page at a time."""
    terms = model.catalog.users.terms
    return schemas.UserList(
        total=len(terms), offset=offset, user_ids=terms[offset : offset + limit].tolist()
    )


@users.get("/{user_id}/ratings")
async def user_ratings(
    request: Request,
    model: Model,
    user_id: UserIdPath,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> schemas.UserRatings:
    """The movies a user rated, best rated first: the training data's (public), and with the
    operator's key (or to the profile's own visitor) also the store's, each marked by its
    `source` (a stored rating of a movie replaces the data set's)."""
    history = await user_history(request, model, user_id)
    if history is None:
        rated = [(m, t, r, "dataset") for m, t, r in model.rated_movies(user_id)]
    else:
        rated = sorted(
            ((m, model.catalog.id_to_title[m], r, source) for m, (r, source) in history.items()),
            key=lambda row: -row[2],
        )
    return schemas.UserRatings(
        user_id=user_id,
        total=len(rated),
        ratings=[
            schemas.RatedMovie(movie_id=m, movie_title=t, rating=r, source=s)  # type: ignore[arg-type]
            for m, t, r, s in rated[:limit]
        ],
    )


@users.get("/{user_id}/recommendations")
async def user_recommendations(
    request: Request,
    model: Model,
    user_id: UserIdPath,
    k: KQuery = DEFAULT_K,
    include_seen: Annotated[
        bool, Query(description="Also recommend movies the user already rated.")
    ] = False,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Places to skip (10: the second page).")
    ] = 0,
    genre: Annotated[
        list[Annotated[str, StringConstraints(pattern=schemas.GENRE_PATTERN)]] | None,
        Query(description="Only movies of any of these genres (repeat the parameter)."),
    ] = None,
    year_from: Annotated[
        int | None, Query(ge=1800, le=2100, description="Only movies from this year on.")
    ] = None,
    year_to: Annotated[
        int | None, Query(ge=1800, le=2100, description="Only movies up to this year.")
    ] = None,
    order: Annotated[ListOrder, Query(description=ORDER_HELP)] = "relevance",
) -> schemas.UserRecommendations:
    """The top k movies for a user; already-rated ones are left out by default. Each names the
    movie the user liked that did most to bring it (`because_title`). With the operator's key
    (or as the page visitor whose profile it is), a user with stored ratings gets a list
    computed now from their whole history (the data set's ratings and the store's), and a new
    user of the store one from theirs."""
    only = ListFilter(tuple(genre or ()), year_from, year_to)
    history = None if include_seen else await user_history(request, model, user_id)
    note: str | None = None
    if history is not None:  # the whole history, the store's ratings too, folded in now
        movies = np.array([model.catalog.resolve_movie(m) for m in history], dtype=np.int64)
        stars = np.array([r for r, _ in history.values()], dtype=np.float64)
        recs = model.recommend_for_ratings(movies, stars, k, offset=offset, only=only, order=order)
        if model.retrieval is not None and not liked_mask(stars, model.rating_scale).any():
            note = "nothing rated 4 stars or more yet: these are the most popular movies"
    else:
        recs = model.recommend(
            user_id, k, include_seen=include_seen, offset=offset, only=only, order=order
        )
        note = model.popular_instead(user_id)
    request.app.state.metrics.served("personal" if note is None else "popular")
    return schemas.UserRecommendations(
        user_id=user_id,
        k=k,
        offset=offset,
        include_seen=include_seen,
        order=order,
        basis="personal" if note is None else "popular",
        note=note,
        recommendations=to_schema(recs),
    )


@recommendations.post("/recommendations", responses=BODY_ERROR_RESPONSES)
async def recommend_for_liked(
    request: Request, model: Model, body: schemas.LikedRequest
) -> schemas.LikedRecommendations:
    """Recommendations for someone not in the data, from titles or ids of movies they liked
    (or rated: then every rated movie is left out, and only the well-rated ones are liked). Each
    names the liked movie that did most to bring it (`because_title`)."""
    only = ListFilter(tuple(body.genres), body.year_from, body.year_to)
    if body.ratings:
        rows = np.array([model.catalog.resolve_movie(str(r.movie)) for r in body.ratings])
        stars = np.array([r.rating for r in body.ratings], dtype=np.float64)
        for rating in stars:
            model.check_rating(float(rating))
        recs = model.recommend_for_ratings(
            rows, stars, body.k, offset=body.offset, only=only, order=body.order
        )
        liked_rows = rows[liked_mask(stars, model.rating_scale)]
        resolved = [schemas.Movie(**model.catalog.info(int(r)).to_dict()) for r in liked_rows]
    else:
        # Every title is resolved before any list is computed: a bad one is the answer.
        resolved = [schemas.Movie(**model.catalog.movie_info(str(r)).to_dict()) for r in body.liked]
        liked = [str(ref) for ref in body.liked]
        recs = model.recommend_for_liked(
            liked, body.k, offset=body.offset, only=only, order=body.order
        )
    request.app.state.metrics.served("personal" if resolved else "popular")
    return schemas.LikedRecommendations(
        liked=resolved,
        k=body.k,
        offset=body.offset,
        order=body.order,
        recommendations=to_schema(recs),
    )


@score.post("/score", responses=BODY_ERROR_RESPONSES)
async def score_movies(model: Model, body: schemas.ScoreRequest) -> schemas.Scores:
    """Predicted ratings of the given movies (titles or ids) for a user, in the order given."""
    user_id = str(body.user_id)
    movies = [str(ref) for ref in body.movies]
    return schemas.Scores(user_id=user_id, scores=to_schema(model.score(user_id, movies)))


async def user_history(
    request: Request, model: Recommender, user_id: str
) -> dict[str, tuple[float, str]] | None:
    """With the operator's key (or the cookie of `user_id`'s own profile) and stored ratings of
    `user_id`: their whole history, movie id -> (rating, source), the data set's first and then
    the store's, oldest first (a stored rating replaces the data set's); for the visitor's own
    profile before its first rating, an empty one. None otherwise: the caller serves what it
    always has."""
    store = request.app.state.store
    if store is None or not storable_id(user_id) or not may_read(request, user_id):
        return None
    stored = await run_in_threadpool(store.ratings_of, user_id)  # the loop never waits on I/O
    if not stored:
        # The visitor's own new profile has an empty history, not an unknown user's 404.
        own_new_profile = user_id not in model.catalog.users and cookie_user(request) == user_id
        return {} if own_new_profile else None
    history: dict[str, tuple[float, str]] = {}
    if user_id in model.catalog.users:
        user = model.catalog.user_index(user_id)
        for movie, rating in zip(
            model.seen.movies_of(user), model.seen.ratings_of(user), strict=True
        ):
            history[model.catalog.movie_id(int(movie))] = (float(rating), "dataset")
    for row in stored:
        if row.movie_id in model.catalog.id_to_title:  # a movie the model knows
            history.pop(row.movie_id, None)
            history[row.movie_id] = (row.rating, "store")
    return history


def known_movie_id(model: Recommender, movie_id: str) -> str:
    """`movie_id` if it is a MovieLens id of the catalogue (a path segment is never a title), not
    taken down."""
    if movie_id not in model.catalog.id_to_title:
        raise UnknownIdError(
            f"unknown movie id {movie_id!r}: it is not among the "
            f"{len(model.catalog.movies)} movies. "
            "Find a movie's id with GET /movies?query=<part of its title>."
        )
    if model.catalog.is_hidden(model.catalog.resolve_movie(movie_id)):
        raise UnknownIdError(f"movie {movie_id} was taken down")
    return movie_id


def to_schema(recs: list[RecommenderItem]) -> list[schemas.Recommendation]:
    return [schemas.Recommendation(**r.to_dict()) for r in recs]


ROUTERS = (health, movies, users, recommendations, score)
