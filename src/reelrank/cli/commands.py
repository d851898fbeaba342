"""The commands of `reelrank`; see `reelrank.cli` for the conventions they share."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.table import Table

from reelrank.artifact_dir import check_target
from reelrank.cli.output import (
    console,
    emit_json,
    fail,
    print_metrics,
    print_recommendations,
    progress_bar,
    say,
    stderr,
    user_errors,
)
from reelrank.config import ExperimentConfig, preset, with_overrides
from reelrank.data.catalog import ListFilter
from reelrank.data.splits import SPLIT_HELP, parse_split
from reelrank.recommender import Recommender
from reelrank.served_lists import check_k
from reelrank.types import ReelrankError

app = typer.Typer(
    name="reelrank",
    help="reelrank: a two-stage movie recommender (retrieval + ranking) on MovieLens.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Inspect the data set.", no_args_is_help=True)
app.add_typer(data_app, name="data")

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="A GroupLens ml-100k folder or ml-100k.zip to use instead of downloading."
    ),
]
BadRowsOption = Annotated[
    str,
    typer.Option(
        "--on-bad-rows",
        help=(
            "Ratings that repeat a user and movie, or carry a time outside 1970-2100: refuse "
            "the file (default), skip them, or keep-last (each user and movie's latest rating)."
        ),
    ),
]
CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Where downloaded data is cached (default: $REELRANK_CACHE_DIR or ~/.cache/reelrank).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
ArtifactArg = Annotated[
    Path, typer.Argument(help="An artifact directory made by `reelrank train`.")
]


def load_ratings(data: Path | None, cache_dir: Path | None, on_bad_rows: str = "refuse") -> Any:
    from reelrank.data.movielens import load_movielens_100k
    from reelrank.data.movielens_tables import BAD_ROW_CHOICES, BadRows

    if on_bad_rows not in BAD_ROW_CHOICES:
        raise ReelrankError(
            f"--on-bad-rows must be {', '.join(BAD_ROW_CHOICES)}; got {on_bad_rows!r}"
        )
    return load_movielens_100k(
        data,
        cache_dir=cache_dir,
        notify=say,
        on_bad_rows=cast(BadRows, on_bad_rows),  # checked just above
    )


@app.command()
def train(
    preset_name: Annotated[
        str, typer.Option("--preset", help="Named configuration to start from.")
    ] = "seed",
    epochs: Annotated[int | None, typer.Option(help="Training epochs (preset's if unset).")] = None,
    split: Annotated[str | None, typer.Option(help=f"Train/test split: {SPLIT_HELP}.")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed for split, init and shuffle.")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory to write the trained artifact to.")
    ] = Path("artifacts/model"),
    data: DataOption = None,
    on_bad_rows: BadRowsOption = "refuse",
    cache_dir: CacheOption = None,
    as_json: JsonOption = False,
) -> None:
    """Train a model on MovieLens 100k, evaluate it on the held-out split, save an artifact."""
    from reelrank.experiment import check_split, train_recommender

    with user_errors():
        config = build_config(preset_name, epochs=epochs, split=split, seed=seed)
        check_target(out_dir)  # before the data is loaded and the model trained, not after
        ratings = load_ratings(data, cache_dir, on_bad_rows)
        check_split(ratings, config)
        with progress_bar(not as_json) as on_progress:
            recommender = train_recommender(
                ratings, config, on_progress=on_progress, data_info={"dataset": "movielens/100k"}
            )
        path = recommender.save(out_dir)
    metrics = recommender.metrics
    if as_json:
        emit_json({"artifact": str(path), "preset": config.preset, "metrics": metrics})
        return
    console().print(f"Saved the trained model to [bold]{path}[/]")
    print_metrics(metrics, title=f"Evaluation on the test part of split {config.split}")


def build_config(
    preset_name: str, *, epochs: int | None, split: str | None, seed: int | None
) -> ExperimentConfig:
    """A preset with command-line overrides applied and checked."""
    config = preset(preset_name)
    if epochs is not None and epochs < 1:
        raise ReelrankError(f"--epochs must be at least 1, got {epochs}")
    if split is not None:
        parse_split(split)
    training = with_overrides(config.training, epochs=epochs, seed=seed)
    retrieval_training = config.retrieval_training
    if retrieval_training is not None:
        retrieval_training = with_overrides(retrieval_training, epochs=epochs, seed=seed)
    return with_overrides(
        config, split=split, training=training, retrieval_training=retrieval_training
    )


@app.command()
def evaluate(
    artifact: ArtifactArg,
    split: Annotated[
        str | None, typer.Option(help=f"Split to test on (default: the artifact's). {SPLIT_HELP}.")
    ] = None,
    data: DataOption = None,
    on_bad_rows: BadRowsOption = "refuse",
    cache_dir: CacheOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate a trained artifact on the test part of a split."""
    from reelrank.experiment import evaluate_recommender

    with user_errors():
        if split is not None:
            parse_split(split)
        recommender = Recommender.load(artifact)
        ratings = load_ratings(data, cache_dir, on_bad_rows)
        metrics = evaluate_recommender(recommender, ratings, split)
    if as_json:
        emit_json(
            {"artifact": str(artifact), "split": split or recommender.config.split, **metrics}
        )
        return
    split_name = split or recommender.config.split
    dropped = metrics.get("test_ratings_dropped_as_trained_on", 0)
    if dropped:
        say(
            f"note: {dropped:,} test ratings of {split_name} were in the model's training data "
            f"(split {recommender.config.split}, seed {recommender.config.training.seed}); "
            "they are left out of these figures"
        )
    print_metrics(metrics, title=f"Evaluation on the test part of split {split_name}")


@app.command()
def report(
    artifact: ArtifactArg,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory to write the report to (made if missing).")
    ],
    split: Annotated[
        str | None, typer.Option(help=f"Split to test on (default: the artifact's). {SPLIT_HELP}.")
    ] = None,
    data: DataOption = None,
    on_bad_rows: BadRowsOption = "refuse",
    cache_dir: CacheOption = None,
) -> None:
    """Evaluate an artifact as `evaluate` does, plus the liked path given 1, 3 and 10 liked
    movies, and write metrics.json, report.md and plots (PNG) to --out."""
    from reelrank.experiment import evaluate_recommender
    from reelrank.report import pyplot, writable_dir, write_report
    from reelrank.served_evaluation import evaluate_liked_counts, scorable_test

    with user_errors():
        if split is not None:
            parse_split(split)
        pyplot()  # before minutes of evaluation: without matplotlib, say so now
        writable_dir(out_dir)
        recommender = Recommender.load(artifact)
        ratings = load_ratings(data, cache_dir, on_bad_rows)
        metrics = evaluate_recommender(recommender, ratings, split)
        test, _ = scorable_test(recommender, ratings, split)
        metrics |= evaluate_liked_counts(recommender, test)
        config = recommender.config
        split_name = split or config.split
        notes = [f"Artifact `{artifact}`, preset `{config.preset}`, seed {config.training.seed}."]
        dropped = metrics.get("test_ratings_dropped_as_trained_on", 0)
        if dropped:
            notes.append(
                f"{dropped:,} test ratings of {split_name} were in the model's training data "
                f"(split {config.split}); they are left out of these figures."
            )
        written = write_report(
            metrics,
            out_dir,
            title=f"{config.preset} on the test part of split {split_name}",
            notes=notes,
        )
    for path in written:
        console().print(str(path), soft_wrap=True)


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
    scores: Annotated[
        bool,
        typer.Option(
            "--scores", help="Also show the retrieval score (an internal number, not a rating)."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Recommend the top k movies for a user, or for someone from movies they liked; each says
    which liked movie brought it ("because you liked")."""
    from reelrank.served_lists import ListOrder

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
        only = ListFilter(tuple(genre or ()), year_from, year_to)
        recommender = Recommender.load(artifact)
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
    scores: Annotated[
        bool,
        typer.Option(
            "--scores", help="Also show the retrieval score (an internal number, not a rating)."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The movies most like one movie (people who liked it also liked these)."""
    with user_errors():
        check_k(k)
        recommender = Recommender.load(artifact)
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
    from reelrank.experiment import new_ranking_model

    with user_errors():
        recommender = Recommender.load(artifact)
        if untrained:
            recommender.ranking = new_ranking_model(
                recommender.config, recommender.catalog.vocabs
            ).eval()
        recs = recommender.score(user, movie)
    if as_json:
        emit_json({"user_id": user, "untrained": untrained, "scores": [r.to_dict() for r in recs]})
        return
    what = "untrained model" if untrained else "trained model"
    print_recommendations(f"Predicted ratings for user {user} ({what})", recs)


@data_app.command("info")
def data_info(
    data: DataOption = None, cache_dir: CacheOption = None, as_json: JsonOption = False
) -> None:
    """What data set is cached where, with counts of users, movies and ratings."""
    from reelrank.data.movielens import dataset_info

    with user_errors():
        info = dataset_info(data, cache_dir=cache_dir)
    if as_json:
        emit_json(info)
        return
    table = Table(show_header=False)
    for key, value in info.items():
        table.add_row(
            key,
            f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value),
        )
    console().print(table)


@app.command()
def serve(
    artifact: ArtifactArg,
    host: Annotated[
        str, typer.Option(help="Address to listen on; the default is this machine only.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each loads the model).")] = 1,
    threads: Annotated[int, typer.Option(help="Torch threads per worker.")] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) and the web page at / for an artifact."""
    try:
        from reelrank.service.server import serve as run_server
    except ImportError as error:
        fail(f"serving needs the 'serve' extra: pip install 'reelrank[serve]' ({error})")
    with user_errors():
        if not 1 <= port <= 65535:
            raise ReelrankError(f"--port must be between 1 and 65535, got {port}")
        if workers < 1 or threads < 1:
            raise ReelrankError(
                f"--workers and --threads must be at least 1, got {workers}, {threads}"
            )
        recommender = Recommender.load(artifact)  # fail here, clearly, before binding the port
    stderr().print(
        f"Serving {artifact} on http://{host}:{port} (API docs at /docs); Ctrl+C stops.",
        soft_wrap=True,
    )
    run_server(
        artifact,
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        recommender=recommender if workers == 1 else None,
    )


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
