"""`reelrank train`: one process, or several under torchrun (`--nproc`), with checkpoints and
`--resume`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

from reelrank.artifacts.directory import check_target
from reelrank.cli.app import (
    CacheOption,
    JsonOption,
    app,
)
from reelrank.cli.inputs import DataOptions, load_ratings, quiet, with_data_options
from reelrank.cli.output import (
    console,
    emit_json,
    fail,
    print_metrics,
    progress_bar,
    say,
    user_errors,
)
from reelrank.config import ExperimentConfig, preset, with_overrides
from reelrank.data.splits import SPLIT_HELP, parse_split
from reelrank.errors import ReelrankError
from reelrank.runtime.devices import DEVICE_HELP, PRECISIONS


@app.command()
@with_data_options
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
    data_options: DataOptions = DataOptions(),
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Also train on the ratings of this rating store (an SQLite file or a "
            "postgresql:// URL): new users, and stored ratings replacing the data set's.",
        ),
    ] = None,
    warm_start: Annotated[
        Path | None,
        typer.Option(
            help="Start from this artifact's weights (same preset) where they fit: its users' "
            "and movies' rows by id, new ones fresh. A retrain on more data converges sooner.",
        ),
    ] = None,
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
            "--nproc-per-node N -m reelrank train with the other options (see docs/running.md for "
            "several machines).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Train a model (on MovieLens 100k unless told otherwise), evaluate it on the held-out
    split, save an artifact. Training is checkpointed, and --resume continues a stopped run.
    Under torchrun (or with --nproc) the processes train together, and rank 0 evaluates,
    saves and reports."""
    from reelrank.experiment.run import run_identity, train_recommender
    from reelrank.experiment.split import check_split
    from reelrank.runtime.devices import check_precision, resolve_device
    from reelrank.runtime.distributed import World, joined
    from reelrank.training.checkpoints import Checkpoints

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
        check_precision(config.training.precision, device, say if world.is_main else quiet)
        check_target(out_dir)  # before the data is loaded and the model trained, not after
        warm_from = None
        if warm_start is not None:
            from reelrank.recommender.recommender import Recommender

            warm_from = Recommender.load(warm_start)
        choice = data_options.choice()
        ratings = load_ratings(choice, cache_dir, silent=not world.is_main)
        share = None
        if store is not None:
            ratings, share = _with_store(ratings, store, say if world.is_main else quiet)
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
        if share is not None:
            data_info["store"] = share
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
                warm_from=warm_from,
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


def _with_store(ratings: Any, location: str, notify: Any) -> tuple[Any, dict[str, Any]]:
    """The data set's ratings plus the store's at `location`, and what the store added."""
    from reelrank.experiment.stored import with_stored_ratings
    from reelrank.store.store import RatingStore

    with RatingStore(location) as opened:
        merged, share = with_stored_ratings(
            ratings,
            (row for batch in opened.all_ratings() for row in batch),
            opened.movies.all(),
        )
        where = opened.where
    notify(
        f"store {where}: {share.read:,} ratings read; {share.added:,} added, "
        f"{share.replaced:,} replacing the data set's, {share.new_users:,} new users, "
        f"{share.new_movies:,} added movies"
        + (
            f"; {share.unknown_movies:,} of movies the data set lacks left out"
            if share.unknown_movies
            else ""
        )
    )
    return merged, {"where": where, **share.to_json()}


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
    rating = config.rating
    if rating is not None and rating.components:
        # An ensemble's models each train with their own config: the overrides apply to each.
        components = tuple(
            dataclasses.replace(c, training=with_overrides(c.training, **overrides))
            for c in rating.components
        )
        rating = dataclasses.replace(rating, components=components)
    return with_overrides(
        config,
        split=split,
        training=training,
        retrieval_training=retrieval_training,
        rating=rating,
    )
