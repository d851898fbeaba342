"""Request and response bodies of the HTTP API, and the caps that keep requests small.

Requests and responses are separate models (as in the FastAPI template): what a client may send is
checked strictly, what the server returns is documented exactly in the OpenAPI schema.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from reelrank.recommender.lists import ListOrder
from reelrank.types import GENRES

# Caps: a request can never ask for more work than these allow.
MAX_K = 100  # movies per recommendation / similar list
DEFAULT_K = 10
MAX_LIST = 50  # liked movies or movies to score in one request
MAX_SEARCH = 50  # search results per query
DEFAULT_SEARCH = 10
MAX_QUERY = 200  # characters in a search query or a title
MAX_ID = 32  # characters in a user or movie id
MAX_PAGE = 1000  # user ids or rated movies per page
MAX_OFFSET = 1000  # places a list may skip (pages past the first)
MAX_BODY_BYTES = 16 * 1024  # a full liked list of long titles is about 10 KiB
MAX_IMPORT = 1000  # ratings in one POST /ratings (413 beyond)
MAX_IMPORT_BYTES = 256 * 1024  # room for MAX_IMPORT ratings of the longest ids
LAST_TIMESTAMP = 4_102_444_800  # 2100-01-01: a later rating time is a client's mistake

K = Annotated[int, Field(ge=1, le=MAX_K, description=f"How many movies to return (1..{MAX_K}).")]
# A title must have something besides white space in it (`\S`), so the schema says what we accept.
Title = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY, pattern=r"\S")]
MovieId = Annotated[int, Field(ge=1, le=10**9)]
# A movie as a client names it: a title (forgiving match, as in the CLI) or a MovieLens id.
MovieRef = Title | MovieId
UserId = (
    Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID)]
    | Annotated[int, Field(ge=0, le=10**9)]
)


Offset = Annotated[
    int, Field(ge=0, le=MAX_OFFSET, description="Places to skip: 10 gives the second page of 10.")
]
# A genre by its MovieLens name, exactly (the schema lists them, so clients and fuzzers see them).
GENRE_PATTERN = "^(" + "|".join(re.escape(g) for g in GENRES[1:]) + ")$"
Genre = Annotated[str, StringConstraints(pattern=GENRE_PATTERN)]
Year = Annotated[int, Field(ge=1800, le=2100)]
ORDER_HELP = (
    "How the list is ordered: 'relevance' (the default), the best match first, in the retrieval "
    "model's order, with the predicted rating shown beside each movie; 'predicted_rating', the "
    "highest predicted rating first among the retrieval model's candidates (the seed tutorial's "
    "order; it surfaces less-known movies). A model with one stage orders by its own score either "
    "way; one without a rating model cannot order by predicted rating (422)."
)


class _Request(BaseModel):
    # Unknown fields are a client mistake worth reporting, not something to drop silently.
    model_config = ConfigDict(extra="forbid")


class RatedRef(_Request):
    movie: MovieRef = Field(description="A title or MovieLens movie id.")
    rating: float = Field(ge=0, le=100, description="The rating given, on the model's scale.")


class LikedRequest(_Request):
    """Recommendations for someone who is not in the data, from movies they liked, or from
    movies they rated (each rated one is left out; only those rated well are liked)."""

    # Exactly one of `liked` and `ratings`, as the schema says (oneOf) and `one_history` checks.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["liked"]}, {"required": ["ratings"]}]},
    )

    liked: list[MovieRef] = Field(
        default_factory=list,
        min_length=1,
        max_length=MAX_LIST,
        description=f"Titles or MovieLens movie ids of liked movies (1..{MAX_LIST}).",
        examples=[["Star Wars (1977)", "usual suspects", 50]],
    )
    ratings: list[RatedRef] = Field(
        default_factory=list,
        min_length=1,
        max_length=MAX_LIST,
        description=f"Instead of `liked`: rated movies (1..{MAX_LIST}), as a page that keeps "
        "ratings in the browser sends them. Those rated 4 or more are liked (none such: those at "
        "the highest rating given, if above the scale's middle); a low rating is not a like.",
        examples=[[{"movie": 50, "rating": 5}, {"movie": "Liar Liar (1997)", "rating": 1}]],
    )
    k: K = DEFAULT_K
    offset: Offset = 0
    genres: list[Genre] = Field(
        default_factory=list, max_length=20, description="Only movies of any of these genres."
    )
    year_from: Year | None = Field(default=None, description="Only movies from this year on.")
    year_to: Year | None = Field(default=None, description="Only movies up to this year.")
    order: ListOrder = Field(
        default="relevance",
        description=ORDER_HELP + " Here the predicted rating is a typical user's: the rating "
        "model has no row for someone not in the data.",
    )

    @model_validator(mode="after")
    def one_history(self) -> LikedRequest:
        if bool(self.liked) == bool(self.ratings):
            raise ValueError("send either liked movies (`liked`) or rated ones (`ratings`)")
        return self


class ScoreRequest(_Request):
    """Predicted ratings of some movies for one user."""

    user_id: UserId = Field(description='A user id from the data, e.g. "9".', examples=["9"])
    movies: list[MovieRef] = Field(
        min_length=1,
        max_length=MAX_LIST,
        description=f"Titles or MovieLens movie ids to score (1..{MAX_LIST}).",
        examples=[["One Flew Over the Cuckoo's Nest (1975)", 50]],
    )


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    preset: str = Field(description="The preset the loaded model was trained with.")
    two_stage: bool = Field(description="Whether a retrieval stage picks the candidates.")
    retrieval: bool = Field(
        description="Whether a retrieval model is present (needed for liked-movie "
        "recommendations and similar movies)."
    )
    users: int
    movies: int
    genres: list[str] = Field(description="The genres a list can be narrowed to.")
    store: bool = Field(
        False,
        description="Whether the server keeps the ratings people write (the write API and the "
        "page's profile need it).",
    )
    store_state: Literal["none", "ok", "unavailable"] = Field(
        "none", description="Whether the store answers a query now ('none': no store)."
    )
    model_version: str | None = Field(
        None,
        description="The served artifact's version (the start of its manifest's SHA-256); null "
        "for a model served from memory.",
    )


class Movie(BaseModel):
    movie_id: str
    movie_title: str
    year: int | None
    genres: list[str]


class MovieSearch(BaseModel):
    query: str
    movies: list[Movie]


class Recommendation(BaseModel):
    movie_id: str
    movie_title: str
    year: int | None = Field(description="Release year, from the title; null when unknown.")
    genres: list[str] = Field(description="The movie's genres, as MovieLens lists them.")
    predicted_rating: float | None = Field(
        description="The rating model's predicted rating, on the 1..5 scale; null when the "
        "model has no ranking stage (retrieval-only presets) or for similar movies."
    )
    retrieval_score: float | None = Field(
        description="The retrieval stage's score: a dot product that orders this one list (higher "
        "is a better match), not a rating; null when the model has no retrieval stage."
    )
    because_movie_id: str | None = Field(
        description="The liked movie that did most to put this one on the list (for a user of "
        "the data: among their training movies rated 4 or more; for liked movies: among those "
        "given); null for the most popular movies, similar movies, scores, and models without a "
        "retrieval stage.",
    )
    because_title: str | None = Field(
        description="That movie's title, with its year: the page shows 'because you liked "
        "Fargo (1996)'.",
    )


class UserRecommendations(BaseModel):
    user_id: str
    k: int
    offset: int
    include_seen: bool
    order: ListOrder = Field(description="How the list is ordered (see the `order` parameter).")
    basis: Literal["personal", "popular"] = Field(
        description="'personal': from the user's own ratings; 'popular': the most popular "
        "movies, for a user with too little training history (`note` says why)."
    )
    note: str | None = Field(default=None, description="Why the list is not personal, if not.")
    recommendations: list[Recommendation]


class LikedRecommendations(BaseModel):
    liked: list[Movie] = Field(description="The liked movies as resolved, in the order given.")
    k: int
    offset: int
    order: ListOrder = Field(description="How the list is ordered (see the request's `order`).")
    recommendations: list[Recommendation]


class MoviesToRate(BaseModel):
    movies: list[Movie] = Field(
        description="Movies many people rated, of varied genres, most popular first."
    )


class SimilarMovies(BaseModel):
    movie: Movie
    k: int
    similar: list[Recommendation]


class Scores(BaseModel):
    user_id: str
    scores: list[Recommendation]


class RatedMovie(BaseModel):
    movie_id: str
    movie_title: str
    rating: float
    source: Literal["dataset", "store"] = Field(
        "dataset", description="Where the rating is kept: the training data, or the store."
    )


class UserRatings(BaseModel):
    user_id: str
    total: int = Field(description="How many movies the user rated in the training data.")
    ratings: list[RatedMovie] = Field(description="Best rated first, at most `limit`.")


class UserList(BaseModel):
    total: int
    offset: int
    user_ids: list[str]


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str


class Error(BaseModel):
    """Every error: `detail` is one sentence saying what was wrong and what to do."""

    detail: str
    candidates: list[str] | None = Field(
        default=None, description="For an ambiguous title: the titles it could mean."
    )
    errors: list[FieldError] | None = Field(
        default=None, description="For invalid arguments: each problem and where it is."
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Error, "description": "Unknown user or movie."},
    422: {"model": Error, "description": "Invalid arguments."},
}
BODY_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "A body that cannot be read as text (not UTF-8)."},
    413: {"model": Error, "description": f"A body over {MAX_BODY_BYTES} bytes."},
}


# An id a client writes: printable text (no control characters), as the store keeps it.
WrittenId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")
]
Stars = Annotated[
    float,
    Field(
        allow_inf_nan=False,
        description="The rating, on the data's scale (1..5 on MovieLens; 422 outside it).",
    ),
]
RatedAt = Annotated[
    int | None,
    Field(
        ge=0,
        le=LAST_TIMESTAMP,
        description="When it was rated, in seconds since 1970 (default: now).",
    ),
]


class RatingWrite(_Request):
    rating: Stars
    timestamp: RatedAt = None


class ImportedRating(_Request):
    user_id: WrittenId
    movie_id: WrittenId
    rating: Stars
    timestamp: RatedAt = None


class RatingsImport(_Request):
    ratings: list[ImportedRating] = Field(
        description=f"At most {MAX_IMPORT} ratings (413 beyond); written all or none."
    )


class StoredRating(BaseModel):
    user_id: str
    movie_id: str
    movie_title: str
    rating: float
    timestamp: int
    source: Literal["store"] = "store"


class Imported(BaseModel):
    imported: int = Field(description="How many ratings were written, all in one transaction.")
