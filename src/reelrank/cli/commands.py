"""Commands that train, evaluate, report, serve and show the data; see `reelrank.cli` for the
conventions every command shares."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from reelrank.artifact_dir import check_target
from reelrank.cli.app import (
    ArtifactArg,
    BadRowsOption,
    CacheOption,
    ColumnsOption,
    DataOption,
    DatasetOption,
    DeviceOption,
    JsonOption,
    MovieColumnsOption,
    MoviesOption,
    RatingsOption,
    TestSplitOption,
    app,
    data_app,
)
from reelrank.cli.output import (
    console,
    emit_json,
    fail,
    print_metrics,
    progress_bar,
    say,
    stderr,
    user_errors,
)
from reelrank.config import ExperimentConfig, preset, with_overrides
from reelrank.data.datasets import ML_100K, DataChoice, load_data
from reelrank.data.splits import SPLIT_HELP, parse_split
from reelrank.devices import DEVICE_HELP, PRECISIONS
from reelrank.recommender import Recommender
from reelrank.types import ReelrankError


def data_choice(
    dataset: str | None = None,
    data: Path | None = None,
    ratings: Path | None = None,
    columns: str | None = None,
    movies: Path | None = None,
    movie_columns: str | None = None,
    on_bad_rows: str | None = None,
    *,
    recorded: Recommender | None = None,
) -> DataChoice:
    """The data the options name; with none named, the data `recorded` was trained on (else
    MovieLens 100k). Paths are made absolute, so an artifact's record works from anywhere."""

    def absolute(path: Path | None) -> str | None:
        return str(path.expanduser().resolve()) if path is not None else None

    named = any(x is not None for x in (dataset, data, ratings, columns, movies, movie_columns))
    source = recorded.data_info.get("source") if recorded is not None else None
    if not named and isinstance(source, dict):
        choice = DataChoice.from_json(source)
        return replace(choice, on_bad_rows=on_bad_rows or choice.on_bad_rows)
    return DataChoice(
        dataset=dataset or ML_100K,
        data=absolute(data),
        ratings=absolute(ratings),
        columns=columns,
        movies=absolute(movies),
        movie_columns=movie_columns,
        on_bad_rows=on_bad_rows or "refuse",
    )


def load_ratings(choice: DataChoice, cache_dir: Path | None, *, quiet: bool = False) -> Any:
    return load_data(choice, cache_dir=cache_dir, notify=_quiet if quiet else say)


@app.command()
def train(
    preset_name: Annotated[
        str, typer.Option("--preset", help="Named configuration to start from.")
    ] = "seed",
    epochs: Annotated[int | None, typer.Option(help="Training epochs (preset's if unset).")] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(help="Ratings per training step, over all processes (preset's if unset)."),
    ] = None,
    split: Annotated[str | None, typer.Option(help=f"Train/test split: {SPLIT_HELP}.")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed for split, init and shuffle.")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory to write the trained artifact to.")
    ] = Path("artifacts/model"),
    dataset: DatasetOption = None,
    data: DataOption = None,
    ratings_file: RatingsOption = None,
    columns: ColumnsOption = None,
    movies: MoviesOption = None,
    movie_columns: MovieColumnsOption = None,
    on_bad_rows: BadRowsOption = None,
    cache_dir: CacheOption = None,
    device_name: Annotated[
        str, typer.Option("--device", help=f"Train on: {DEVICE_HELP}.")
    ] = "auto",
    precision: Annotated[
        str | None,
        typer.Option(
            help="fp32, or bf16 for the dense layers' products (fast on GPUs and AMX CPUs)."
        ),
    ] = None,
    checkpoint_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where checkpoints go while training (default: OUT.checkpoints beside --out); "
            "removed once the artifact is saved."
        ),
    ] = None,
    checkpoint_every: Annotated[
        int,
        typer.Option(help="Also checkpoint every N training steps (0: after each epoch only)."),
    ] = 0,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue a run that stopped (a crash, kill -9) from its checkpoints in DIR; "
            "give the same options it was started with."
        ),
    ] = None,
    nproc: Annotated[
        int | None,
        typer.Option(
            "--nproc",
            help="Train in N processes on this machine: runs torchrun --standalone "
            "--nproc-per-node N -m reelrank train with the other options (see the README for "
            "several machines).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Train a model (on MovieLens 100k unless told otherwise), evaluate it on the held-out
    split, save an artifact. Training is checkpointed, and --resume continues a stopped run.
    Under torchrun (or with --nproc) the processes train together, and rank 0 evaluates,
    saves and reports."""
    from reelrank.checkpoints import Checkpoints
    from reelrank.devices import check_precision, resolve_device
    from reelrank.distributed import World, joined
    from reelrank.experiment import check_split, run_identity, train_recommender

    world = World.from_env()
    if nproc is not None:
        launch_processes(nproc, world)
    with user_errors():
        config = build_config(
            preset_name,
            epochs=epochs,
            split=split,
            seed=seed,
            precision=precision,
            batch_size=batch_size,
        )
        device = world.device(resolve_device(device_name))
        check_precision(config.training.precision, device, say if world.is_main else _quiet)
        check_target(out_dir)  # before the data is loaded and the model trained, not after
        choice = data_choice(
            dataset, data, ratings_file, columns, movies, movie_columns, on_bad_rows
        )
        ratings = load_ratings(choice, cache_dir, quiet=not world.is_main)
        check_split(ratings, config)
        checkpoints = Checkpoints(
            resume or checkpoint_dir or out_dir.with_name(out_dir.name + ".checkpoints"),
            identity=run_identity(ratings, config),
            every_steps=checkpoint_every,
            resume=resume is not None,
            writes=world.is_main,
        )
        if resume is not None and world.is_main:
            say(f"resuming from {resume}: {checkpoints.position.describe()}")
        elif checkpoints.earlier_run() and world.is_main:
            say(
                f"note: {checkpoints.directory} holds the checkpoints of an earlier run that did "
                f"not finish; this run replaces them (to continue that one instead: --resume "
                f"{checkpoints.directory})"
            )
        data_info: dict[str, Any] = {"dataset": choice.name, "source": choice.to_json()}
        if world.distributed:
            data_info["processes"] = world.size
        with joined(world, device), progress_bar(world.is_main and not as_json) as on_progress:
            recommender = train_recommender(
                ratings,
                config,
                on_progress=on_progress,
                data_info=data_info,
                device=device,
                checkpoints=checkpoints,
                world=world,
            )
        if not world.is_main:
            return  # rank 0 evaluates, saves and reports
        path = recommender.save(out_dir)
        checkpoints.remove()
    metrics = recommender.metrics
    if as_json:
        emit_json({"artifact": str(path), "preset": config.preset, "metrics": metrics})
        return
    console().print(f"Saved the trained model to [bold]{path}[/]")
    print_metrics(metrics, title=f"Evaluation on the test part of split {config.split}")


def _quiet(_: str) -> None:
    """Where only rank 0 speaks."""


def launch_processes(nproc: int, world: Any) -> None:
    """`train --nproc N`: run this same command in N processes under torchrun, and exit with
    its status."""
    import subprocess
    import sys

    if nproc < 1:
        fail(f"--nproc must be at least 1, got {nproc}")
    if world.distributed:
        fail("--nproc starts processes itself: leave it out under torchrun")
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg == "--nproc":
            skip = not skip
            continue
        if not arg.startswith("--nproc="):
            args.append(arg)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", str(nproc), "-m", "reelrank", *args]
    raise typer.Exit(subprocess.run(command, check=False).returncode)


def build_config(
    preset_name: str,
    *,
    epochs: int | None,
    split: str | None,
    seed: int | None,
    precision: str | None = None,
    batch_size: int | None = None,
) -> ExperimentConfig:
    """A preset with command-line overrides applied and checked."""
    config = preset(preset_name)
    if epochs is not None and epochs < 1:
        raise ReelrankError(f"--epochs must be at least 1, got {epochs}")
    if split is not None:
        parse_split(split)
    if precision is not None and precision not in PRECISIONS:
        raise ReelrankError(f"--precision must be {' or '.join(PRECISIONS)}, got {precision!r}")
    if batch_size is not None and batch_size < 1:
        raise ReelrankError(f"--batch-size must be at least 1, got {batch_size}")
    overrides = {"epochs": epochs, "seed": seed, "precision": precision, "batch_size": batch_size}
    training = with_overrides(config.training, **overrides)
    retrieval_training = config.retrieval_training
    if retrieval_training is not None:
        retrieval_training = with_overrides(retrieval_training, **overrides)
    return with_overrides(
        config, split=split, training=training, retrieval_training=retrieval_training
    )


@app.command()
def evaluate(
    artifact: ArtifactArg,
    split: TestSplitOption = None,
    dataset: DatasetOption = None,
    data: DataOption = None,
    ratings_file: RatingsOption = None,
    columns: ColumnsOption = None,
    movies: MoviesOption = None,
    movie_columns: MovieColumnsOption = None,
    on_bad_rows: BadRowsOption = None,
    cache_dir: CacheOption = None,
    device_name: DeviceOption = "auto",
    as_json: JsonOption = False,
) -> None:
    """Evaluate a trained artifact on the test part of a split of the data it was trained on
    (or of the data named)."""
    from reelrank.devices import resolve_device
    from reelrank.experiment import evaluate_recommender

    with user_errors():
        if split is not None:
            parse_split(split)
        device = resolve_device(device_name)
        recommender = Recommender.load(artifact).to(device)
        choice = data_choice(
            dataset,
            data,
            ratings_file,
            columns,
            movies,
            movie_columns,
            on_bad_rows,
            recorded=recommender,
        )
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
def report(
    artifact: ArtifactArg,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory to write the report to (made if missing).")
    ],
    split: TestSplitOption = None,
    dataset: DatasetOption = None,
    data: DataOption = None,
    ratings_file: RatingsOption = None,
    columns: ColumnsOption = None,
    movies: MoviesOption = None,
    movie_columns: MovieColumnsOption = None,
    on_bad_rows: BadRowsOption = None,
    cache_dir: CacheOption = None,
    device_name: DeviceOption = "auto",
) -> None:
    """Evaluate an artifact as `evaluate` does, plus the liked path given 1, 3 and 10 liked
    movies, and write metrics.json, report.md and plots (PNG) to --out."""
    from reelrank.devices import resolve_device
    from reelrank.experiment import evaluate_recommender
    from reelrank.report import pyplot, writable_dir, write_report
    from reelrank.served_evaluation import LIKED_COUNTS

    with user_errors():
        if split is not None:
            parse_split(split)
        pyplot()  # before minutes of evaluation: without matplotlib, say so now
        writable_dir(out_dir)
        device = resolve_device(device_name)
        recommender = Recommender.load(artifact).to(device)
        choice = data_choice(
            dataset,
            data,
            ratings_file,
            columns,
            movies,
            movie_columns,
            on_bad_rows,
            recorded=recommender,
        )
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
def data_info(
    dataset: DatasetOption = None,
    data: DataOption = None,
    ratings_file: RatingsOption = None,
    columns: ColumnsOption = None,
    movies: MoviesOption = None,
    movie_columns: MovieColumnsOption = None,
    on_bad_rows: BadRowsOption = None,
    cache_dir: CacheOption = None,
    as_json: JsonOption = False,
) -> None:
    """What data set is cached where, with counts of users, movies and ratings (never
    downloads)."""
    from reelrank.data.datasets import data_summary

    with user_errors():
        choice = data_choice(
            dataset, data, ratings_file, columns, movies, movie_columns, on_bad_rows
        )
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
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) and the web page at / for an artifact."""
    try:
        from reelrank.service.server import serve as run_server
    except ImportError as error:
        fail(f"serving needs the 'serve' extra: pip install 'reelrank[serve]' ({error})")
    from reelrank.devices import resolve_device

    with user_errors():
        if not 1 <= port <= 65535:
            raise ReelrankError(f"--port must be between 1 and 65535, got {port}")
        if workers < 1 or threads < 1:
            raise ReelrankError(
                f"--workers and --threads must be at least 1, got {workers}, {threads}"
            )
        device = resolve_device(device_name)
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
        device=device,
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
    from reelrank.data.synth import synthesize

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
