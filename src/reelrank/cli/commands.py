"""Commands that train, evaluate, report, serve and show the data; see `reelrank.cli` for the
conventions every command shares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from reelrank.cli.app import (
    ArtifactArg,
    CacheOption,
    DeviceOption,
    JsonOption,
    StoreOption,
    TestSplitOption,
    app,
    data_app,
)
from reelrank.cli.inputs import DataOptions, load_ratings, load_recommender, with_data_options
from reelrank.cli.output import (
    console,
    emit_json,
    fail,
    print_metrics,
    say,
    stderr,
    user_errors,
)
from reelrank.data.splits import parse_split
from reelrank.errors import ReelrankError
from reelrank.recommender.recommender import Recommender


@app.command()
@with_data_options
def evaluate(
    artifact: ArtifactArg,
    split: TestSplitOption = None,
    data_options: DataOptions = DataOptions(),
    cache_dir: CacheOption = None,
    device_name: DeviceOption = "auto",
    as_json: JsonOption = False,
) -> None:
    """Evaluate a trained artifact on the test part of a split of the data it was trained on
    (or of the data named)."""
    from reelrank.experiment.run import evaluate_recommender

    with user_errors():
        if split is not None:
            parse_split(split)
        recommender = load_recommender(artifact, device_name)
        choice = data_options.choice(recorded=recommender)
        ratings = load_ratings(choice, cache_dir)
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
@with_data_options
def report(
    artifact: ArtifactArg,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory to write the report to (made if missing).")
    ],
    split: TestSplitOption = None,
    data_options: DataOptions = DataOptions(),
    cache_dir: CacheOption = None,
    device_name: DeviceOption = "auto",
) -> None:
    """Evaluate an artifact as `evaluate` does, plus the liked path given 1, 3 and 10 liked
    movies, and write metrics.json, report.md and plots (PNG) to --out."""
    from reelrank.evaluation.report import pyplot, writable_dir, write_report
    from reelrank.evaluation.served import LIKED_COUNTS
    from reelrank.experiment.run import evaluate_recommender

    with user_errors():
        if split is not None:
            parse_split(split)
        pyplot()  # before minutes of evaluation: without matplotlib, say so now
        writable_dir(out_dir)
        recommender = load_recommender(artifact, device_name)
        choice = data_options.choice(recorded=recommender)
        ratings = load_ratings(choice, cache_dir)
        metrics = evaluate_recommender(recommender, ratings, split, liked_counts=LIKED_COUNTS)
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


@data_app.command("info")
@with_data_options
def data_info(
    data_options: DataOptions = DataOptions(),
    cache_dir: CacheOption = None,
    as_json: JsonOption = False,
) -> None:
    """What data set is cached where, with counts of users, movies and ratings (never
    downloads)."""
    from reelrank.data.choice import data_summary

    with user_errors():
        choice = data_options.choice()
        info = data_summary(choice, cache_dir=cache_dir, notify=say)
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
    device_name: DeviceOption = "auto",
    store: StoreOption = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            help="A file holding the operator's API key, which writing ratings needs "
            "(default: $REELRANK_API_KEY; without either, the write API answers 403)."
        ),
    ] = None,
    reload_every: Annotated[
        float,
        typer.Option(
            help="Seconds between checks for a new model saved at ARTIFACT, taken up without "
            "a failed request (0: only on POST /admin/reload)."
        ),
    ] = 10.0,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) and the web page at / for an artifact; the
    ratings people write are kept in the rating store (--store)."""
    try:
        from reelrank.service.server import serve as run_server
    except ImportError as error:
        fail(f"serving needs the 'serve' extra: pip install 'reelrank[serve]' ({error})")
    from reelrank.runtime.devices import resolve_device
    from reelrank.service.auth import read_api_key
    from reelrank.store.store import RatingStore, store_url

    with user_errors():
        if not 1 <= port <= 65535:
            raise ReelrankError(f"--port must be between 1 and 65535, got {port}")
        if reload_every < 0:
            raise ReelrankError(
                f"--reload-every must be 0 (off) or more seconds, got {reload_every}"
            )
        if workers < 1 or threads < 1:
            raise ReelrankError(
                f"--workers and --threads must be at least 1, got {workers}, {threads}"
            )
        device = resolve_device(device_name)
        recommender = Recommender.load(artifact)  # fail here, clearly, before binding the port
        api_key = read_api_key(api_key_file)
        with RatingStore(store) as opened:  # likewise a store that cannot be opened
            where = opened.where
    stderr().print(f"Ratings are stored in {where}.", soft_wrap=True)
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
        device=device,
        store=store_url(store),
        api_key=api_key,
        reload_every=reload_every,
    )


@data_app.command("synth")
def data_synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write (must not exist yet).")],
    ratings: Annotated[int, typer.Option("--ratings", help="How many ratings.")] = 25_000_000,
    users: Annotated[int, typer.Option("--users", help="How many users.")] = 162_541,
    movies: Annotated[int, typer.Option("--movies", help="How many movies.")] = 62_423,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same files.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Write a synthetic MovieLens-style folder (ml-25m's layout and, by default, its shape);
    read it with --dataset ml-25m --data FOLDER."""
    from reelrank.data.synth.writer import synthesize

    with user_errors():
        summary = synthesize(
            out_dir, n_ratings=ratings, n_users=users, n_movies=movies, seed=seed, notify=say
        )
    if as_json:
        emit_json(
            {
                "out": str(summary.out_dir),
                "ratings": summary.n_ratings,
                "users": summary.n_users,
                "movies": summary.n_movies,
                "rated_movies": summary.n_rated_movies,
                "seconds": round(summary.seconds, 2),
            }
        )
        return
    console().print(
        f"Wrote {summary.n_ratings:,} ratings of {summary.n_users:,} users and "
        f"{summary.n_movies:,} movies to [bold]{summary.out_dir}[/] in {summary.seconds:.1f} s. "
        f"Train on it: reelrank train --dataset ml-25m --data {summary.out_dir}",
        soft_wrap=True,
    )
