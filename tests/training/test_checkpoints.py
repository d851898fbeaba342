"""Checkpoints and `--resume`: a run stopped anywhere (an exception, SIGKILL mid-epoch or
mid-checkpoint-write) and resumed ends exactly as an uninterrupted run; a checkpoint that is
half-written, corrupt, or of another run is never loaded."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from reelrank.cli import app
from reelrank.config import (
    ExperimentConfig,
    RatingComponent,
    RatingModelConfig,
    TrainingConfig,
    preset,
)
from reelrank.experiment.run import run_identity, train_recommender
from reelrank.recommender.recommender import Recommender
from reelrank.training.checkpoints import POINTER, STATE, TENSORS, CheckpointError, Checkpoints
from reelrank.types import Ratings

runner = CliRunner()


class Stop(Exception):
    """Stands for a crash inside training."""


def _stop_at(step: int, task: str | None = None):  # type: ignore[no-untyped-def]
    """A progress callback that crashes at the `step`-th training step (of `task`, if named)."""
    count = [0]

    def on_progress(progress: object) -> None:
        if task is None or getattr(progress, "task", None) == task:
            count[0] += 1
            if count[0] == step:
                raise Stop

    return on_progress


def _weights(recommender: Recommender) -> dict[str, torch.Tensor]:
    out = {}
    for name, model in (("r", recommender.rater), ("t", recommender.retrieval)):
        if model is not None:
            out |= {f"{name}.{k}": v for k, v in model.state_dict().items()}
    return out


CONFIGS = {
    # Adagrad with row-sparse embedding updates; a checkpoint every 2 of each epoch's 5 steps.
    "seed": ExperimentConfig(preset="seed", training=TrainingConfig(batch_size=256, epochs=3)),
    # A rating ensemble (MF stopped early on validation, then AutoRec), then a two-tower model
    # trained with AdamW, blended with closed-form EDLAE.
    "two-stage": dataclasses.replace(
        preset("two-stage"),
        rating=RatingModelConfig(
            kind="ensemble",
            components=(
                RatingComponent(
                    RatingModelConfig(kind="mf", embedding_dim=8, l2=0.05),
                    TrainingConfig(optimizer="adam", batch_size=256, epochs=4, patience=1),
                ),
                RatingComponent(
                    RatingModelConfig(kind="autorec", hidden_dims=(8,), l2=5.0),
                    TrainingConfig(optimizer="lbfgs", epochs=2),
                ),
            ),
        ),
        training=TrainingConfig(batch_size=256, epochs=2, validation_fraction=0.1),
        retrieval_training=TrainingConfig(
            batch_size=256, epochs=2, optimizer="adam", learning_rate=0.01
        ),
        candidates=20,
    ),
}


@pytest.mark.parametrize(
    ("name", "stop"),
    [("seed", _stop_at(7)), ("two-stage", _stop_at(3, "retrieval"))],
    ids=["seed-mid-epoch", "two-stage-mid-retrieval"],
)
def test_a_resumed_run_ends_bit_identical(
    name: str, stop: object, ratings: Ratings, tmp_path: Path
) -> None:
    config = CONFIGS[name]
    whole = train_recommender(ratings, config)
    identity = run_identity(ratings, config)
    first = Checkpoints(tmp_path, identity=identity, every_steps=2)
    with pytest.raises(Stop):
        train_recommender(ratings, config, checkpoints=first, on_progress=stop)  # type: ignore[arg-type]
    resumed_from = Checkpoints(tmp_path, identity=identity, every_steps=2, resume=True)
    assert resumed_from.position.phase is not None  # stopped inside a phase
    resumed = train_recommender(ratings, config, checkpoints=resumed_from)
    mine, theirs = _weights(resumed), _weights(whole)
    assert mine.keys() == theirs.keys()
    for key, value in theirs.items():
        assert torch.equal(mine[key], value), key
    assert resumed.metrics == whole.metrics


def test_checkpoints_are_safetensors_and_json_only(ratings: Ratings, tmp_path: Path) -> None:
    config = CONFIGS["seed"]
    checkpoints = Checkpoints(tmp_path, identity=run_identity(ratings, config), every_steps=2)
    train_recommender(ratings, config, checkpoints=checkpoints)
    pointer = json.loads((tmp_path / POINTER).read_text())
    folder = tmp_path / pointer["checkpoint"]
    assert sorted(p.name for p in folder.iterdir()) == [STATE, TENSORS]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("step-")] == [folder.name]
    state = json.loads((folder / STATE).read_text())
    assert state["phase"] is None and state["completed"] == ["rating"]
    tensors = load_file(folder / TENSORS)
    assert "rng.torch" in tensors and any(k.startswith("model.rater.") for k in tensors)
    assert not any(k.startswith("optimizer.") for k in tensors)  # none kept between phases


def test_another_run_or_a_damaged_checkpoint_is_refused(ratings: Ratings, tmp_path: Path) -> None:
    config = CONFIGS["seed"]
    identity = run_identity(ratings, config)
    with pytest.raises(CheckpointError, match="no checkpoint to resume"):
        Checkpoints(tmp_path, identity=identity, resume=True)
    with pytest.raises(Stop):
        train_recommender(
            ratings,
            config,
            checkpoints=Checkpoints(tmp_path, identity=identity),
            on_progress=_stop_at(8),
        )
    longer = dataclasses.replace(config, training=dataclasses.replace(config.training, epochs=4))
    with pytest.raises(CheckpointError, match=r"its config differ \(config fields: training\)"):
        Checkpoints(tmp_path, identity=run_identity(ratings, longer), resume=True)
    fewer = ratings.take(np.arange(len(ratings) - 1))
    with pytest.raises(CheckpointError, match="its data_sha256 differ"):
        Checkpoints(tmp_path, identity=run_identity(fewer, config), resume=True)
    folder = tmp_path / json.loads((tmp_path / POINTER).read_text())["checkpoint"]
    data = bytearray((folder / TENSORS).read_bytes())
    data[-1] ^= 0xFF
    (folder / TENSORS).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt or incomplete"):
        Checkpoints(tmp_path, identity=identity, resume=True)


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from reelrank import files
    from reelrank.training import optimizers
    from reelrank.cli import app

    kind, n = sys.argv[1], int(sys.argv[2])
    count = [0]

    def hit():
        count[0] += 1
        if count[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)

    if kind == "step":  # the n-th optimizer step: mid-epoch, between checkpoints
        step = optimizers.Adagrad.step

        def counted(self):
            step(self)
            hit()

        optimizers.Adagrad.step = counted
    else:  # the n-th time a checkpoint write reaches step `kind`
        files.FAULT_HOOK = lambda name: hit() if name == f"checkpoint:{kind}" else None
    app(sys.argv[3:])
    """
)


@pytest.mark.parametrize(
    ("kind", "n"),
    [("step", 8), ("written", 3), ("staged", 3), ("pointed", 4)],
    ids=["mid-epoch", "mid-checkpoint-write", "before-the-pointer", "after-the-pointer"],
)
def test_sigkill_anywhere_then_resume_gives_the_same_metrics(
    kind: str, n: int, grouplens_dir: Path, tmp_path: Path
) -> None:
    train = ["train", "--data", str(grouplens_dir), "--batch-size", "256", "--epochs", "3"]
    train += ["--checkpoint-every", "2", "--json"]
    whole = runner.invoke(app, [*train, "--out", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    out, checkpoints = tmp_path / "model", tmp_path / "model.checkpoints"
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, kind, str(n), *train, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not out.exists() and (checkpoints / POINTER).is_file()
    if kind == "step":  # starting afresh instead says what it replaces; then the kill again
        afresh = [*train, "--out", str(tmp_path / "other"), "--checkpoint-dir", str(checkpoints)]
        fresh = runner.invoke(app, afresh)
        assert fresh.exit_code == 0 and "holds the checkpoints of an earlier run" in fresh.stderr
        again = [sys.executable, "-c", KILLER, kind, str(n), *train, "--out", str(out)]
        assert subprocess.run(again, capture_output=True, timeout=300).returncode == -9
    resumed = runner.invoke(app, [*train, "--out", str(out), "--resume", str(checkpoints)])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["metrics"] == json.loads(whole.stdout)["metrics"]
    assert not checkpoints.exists()  # removed once the artifact is saved


def test_a_shared_checkpoint_dir_keeps_everything_else(ratings: Ratings, tmp_path: Path) -> None:
    """`--checkpoint-dir` may name a folder that holds other things: finishing removes only the
    checkpoints."""
    (tmp_path / "notes.txt").write_text("keep me")
    config = CONFIGS["seed"]
    checkpoints = Checkpoints(tmp_path, identity=run_identity(ratings, config), every_steps=2)
    train_recommender(ratings, config, checkpoints=checkpoints)
    assert (tmp_path / POINTER).is_file()
    checkpoints.remove()
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    alone = tmp_path / "alone"
    checkpoints = Checkpoints(alone, identity=run_identity(ratings, config))
    train_recommender(ratings, config, checkpoints=checkpoints)
    checkpoints.remove()
    assert not alone.exists()
