"""Commands that show lists: recommend (for a known user or from liked movies), similar, score."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from reelrank.cli.app import ArtifactArg, DeviceOption, JsonOption, ScoresOption, app
from reelrank.cli.inputs import load_recommender
from reelrank.cli.output import (
    console,
    count_bar,
    emit_json,
    print_recommendations,
    say,
    user_errors,
)
from reelrank.data.catalog.catalog import ListFilter
from reelrank.errors import ReelrankError
from reelrank.recommender.lists import ListOrder, check_k
from reelrank.recommender.recommender import Recommender


@app.command()
def recommend(
    artifact: ArtifactArg,
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="The user id to recommend for.")
    ] = None,
    liked: Annotated[
        list[str] | None,
        typer.Option(
            "--liked",
            "-l",
            help="A movie you liked (title or MovieLens id), for someone not in the data; "
            "repeat for several.",
        ),
    ] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="How many movies to return.")] = 10,
    include_seen: Annotated[
        bool, typer.Option("--include-seen", help="Also recommend movies the user already rated.")
    ] = False,
    offset: Annotated[
        int, typer.Option(help="Places to skip: --offset 10 shows the second page of 10.")
    ] = 0,
    genre: Annotated[
        list[str] | None,
        typer.Option("--genre", "-g", help="Only movies of this genre; repeat for any of several."),
    ] = None,
    year_from: Annotated[int | None, typer.Option(help="Only movies from this year on.")] = None,
    year_to: Annotated[int | None, typer.Option(help="Only movies up to this year.")] = None,
    order: Annotated[
        str,
        typer.Option(
            help="relevance: the best match first (the retrieval model's order; the predicted "
            "rating is shown beside each movie). predicted-rating: the highest predicted rating "
            "first, among the retrieval model's candidates (the seed tutorial's order; it "
            "surfaces less-known movies). A model with one stage orders by its own score.",
        ),
    ] = "relevance",
    scores: ScoresOption = False,
    all_users: Annotated[
        bool,
        typer.Option(
            "--all-users",
            help="Write every known user's list to --out as Parquet (user_id, rank, movie_id, "
            "movie_title, score, predicted_rating). Under torchrun each process writes its "
            "share of the users as a part file of the --out folder, with a manifest.",
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where --all-users writes (replaced if there).")
    ] = None,
    device_name: DeviceOption = "auto",
    as_json: JsonOption = False,
) -> None:
    """Recommend the top k movies for a user, or for someone from movies they liked; each says
    which liked movie brought it ("because you liked"). With --all-users, every user's list."""

    orders: dict[str, ListOrder] = {
        "relevance": "relevance",
        "predicted-rating": "predicted_rating",
        "predicted_rating": "predicted_rating",
    }
    with user_errors():
        if order not in orders:
            raise ReelrankError(
                "--order must be relevance (the best match first) or predicted-rating (the "
                f"highest predicted rating first), got {order!r}"
            )
        only = ListFilter(tuple(genre or ()), year_from, year_to)
        if all_users or out is not None:
            if user is not None or liked or offset or not all_users or out is None:
                raise ReelrankError(
                    "--all-users writes every user's list to --out FILE: give both, and no "
                    "--user, --liked or --offset"
                )
            _all_users(artifact, out, k, include_seen, only, orders[order], device_name, as_json)
            return
        if user is None and not liked:
            raise ReelrankError(
                "say who to recommend for: give --user ID (someone in the data) or one or more "
                "--liked TITLE (movies someone liked)"
            )
        if user is not None and liked:
            raise ReelrankError("give either --user ID or --liked TITLE, not both")
        if liked and include_seen:
            raise ReelrankError(
                "--include-seen applies to --user only; liked movies are always left out"
            )
        check_k(k)
        recommender = load_recommender(artifact, device_name)
        if user is not None:
            recs = recommender.recommend(
                user, k, include_seen=include_seen, offset=offset, only=only, order=orders[order]
            )
            who = f"user {user}" + (" (already-rated movies included)" if include_seen else "")
            note = recommender.popular_instead(user)
            key: dict[str, Any] = {
                "user_id": user,
                "include_seen": include_seen,
                "basis": "personal" if note is None else "popular",
                "note": note,
            }
        else:
            matched = [recommender.catalog.movie_info(m) for m in dict.fromkeys(liked or [])]
            recs = recommender.recommend_for_liked(
                liked or [], k, offset=offset, only=only, order=orders[order]
            )
            who = "someone who liked " + ", ".join(m.movie_title for m in matched)
            key = {"liked": [m.to_dict() for m in matched]}
    if as_json:
        emit_json({**key, "order": orders[order], "recommendations": [r.to_dict() for r in recs]})
        return
    if key.get("note"):
        console().print(f"Note: {key['note']}.")
    if not recs and only.active:
        say("no movie passes this filter: widen the genres or years")
    places = f"Top {k} movies" if offset == 0 else f"Movies {offset + 1}-{offset + k}"
    by = ", highest predicted rating first" if orders[order] == "predicted_rating" else ""
    print_recommendations(
        f"{places}{_filter_words(only)} for {who}{by}", recs, first=offset + 1, scores=scores
    )


def _all_users(
    artifact: Path,
    out: Path,
    k: int,
    include_seen: bool,
    only: ListFilter,
    order: ListOrder,
    device_name: str,
    as_json: bool,
) -> None:
    """`recommend --all-users`: every list to Parquet, shared among torchrun's processes."""
    from reelrank.recommender.batch import write_all_users
    from reelrank.runtime.devices import resolve_device
    from reelrank.runtime.distributed import World, joined

    check_k(k)
    world = World.from_env()
    device = world.device(resolve_device(device_name))
    with joined(world, device):
        recommender = Recommender.load(artifact).to(device)
        with count_bar(world.is_main and not as_json, "users") as on_progress:
            summary = write_all_users(
                recommender,
                out,
                k=k,
                include_seen=include_seen,
                only=only,
                order=order,
                world=world,
                on_progress=on_progress,
            )
    if not world.is_main:
        return
    if as_json:
        emit_json(asdict(summary))
        return
    console().print(
        f"Wrote {summary.rows:,} rows, the top {k} of {summary.users:,} users, to "
        f"[bold]{summary.path}[/] ({summary.parts} part{'s' * (summary.parts > 1)}) in "
        f"{summary.seconds:.1f} s",
        soft_wrap=True,
    )


def _filter_words(only: ListFilter) -> str:
    """How a filter reads in a heading: " (Comedy or Drama, 1990-1999)"."""
    parts = [" or ".join(only.genres)] if only.genres else []
    if only.year_from is not None or only.year_to is not None:
        parts.append(f"{only.year_from or '…'}-{only.year_to or '…'}")
    return f" ({', '.join(parts)})" if parts else ""


@app.command()
def similar(
    artifact: ArtifactArg,
    movie: Annotated[str, typer.Argument(help="A movie title (forgiving) or MovieLens id.")],
    k: Annotated[int, typer.Option("-k", "--k", help="How many movies to return.")] = 10,
    scores: ScoresOption = False,
    as_json: JsonOption = False,
) -> None:
    """The movies most like one movie (people who liked it also liked these)."""
    with user_errors():
        check_k(k)
        recommender = load_recommender(artifact)
        info = recommender.catalog.movie_info(movie)
        recs = recommender.similar(movie, k)
    if as_json:
        emit_json({"movie": info.to_dict(), "similar": [r.to_dict() for r in recs]})
        return
    print_recommendations(f"Movies like {info.movie_title}", recs, scores=scores)


@app.command()
def score(
    artifact: ArtifactArg,
    user: Annotated[str, typer.Option("--user", "-u", help="The user id.")],
    movie: Annotated[
        list[str], typer.Option("--movie", "-m", help="A movie title; repeat for several.")
    ],
    untrained: Annotated[
        bool,
        typer.Option(
            "--untrained", help="Score with a freshly initialised model, as the seed does."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Predict a user's rating of one or more movies."""
    from reelrank.experiment.build import untrained_copy

    with user_errors():
        recommender = load_recommender(artifact)
        if untrained and recommender.rater is not None:
            recommender.rater = untrained_copy(recommender.config, recommender.rater)
        recs = recommender.score(user, movie)
    if as_json:
        emit_json({"user_id": user, "untrained": untrained, "scores": [r.to_dict() for r in recs]})
        return
    what = "untrained model" if untrained else "trained model"
    print_recommendations(f"Predicted ratings for user {user} ({what})", recs)
