"""Training in several processes (torch.distributed, launched by torchrun): the same steps as one
process over the same global batch, and only rank 0 evaluates and writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from reelrank.cli import app
from reelrank.config import RetrievalLossConfig, TaskWeights
from reelrank.models.rating.mlp import RatingMLP
from reelrank.models.retrieval.losses import RetrievalLoss
from reelrank.models.retrieval.two_tower import TwoTower
from reelrank.runtime.distributed import World
from reelrank.training.step import TrainingStep

runner = CliRunner()
TORCHRUN = Path(sys.executable).with_name("torchrun")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _gradients(step: TrainingStep, *args: Any) -> dict[str, torch.Tensor]:
    step.zero_grad(set_to_none=True)
    loss, _ = step(*args)
    loss.backward()
    return {
        name: (p.grad.to_dense() if p.grad.is_sparse else p.grad).clone()
        for name, p in step.named_parameters()
        if p.grad is not None
    }


@pytest.mark.parametrize("size", [2, 3])
def test_the_shares_of_a_batch_average_to_the_whole_batchs_gradient(size: int) -> None:
    """What DistributedDataParallel computes (the mean of every process's gradient) equals the
    gradient one process takes on the whole batch, for the rating loss and the in-batch softmax
    with every correction; checked here without processes, to float rounding."""
    from reelrank.config import RatingModelConfig, RetrievalModelConfig

    generator = torch.Generator().manual_seed(0)
    rater = RatingMLP(RatingModelConfig(), n_users=30, n_movies=20, generator=generator)
    tower = TwoTower(RetrievalModelConfig(), n_users=30, n_movies=20, generator=generator)
    counts = torch.randint(1, 50, (21,), generator=generator)
    loss = RetrievalLoss(
        RetrievalLossConfig(temperature=0.5, remove_accidental_hits=True, logq_correction=True),
        movie_counts=counts,
    )
    step = TrainingStep(rater, tower, loss, TaskWeights(rating=1.0, retrieval=0.5), "fp32")
    users = torch.randint(1, 31, (23,), generator=generator)
    movies = torch.randint(1, 21, (23,), generator=generator)  # repeats: accidental hits
    ratings = torch.randint(1, 6, (23,), generator=generator).float()
    whole = _gradients(step, users, movies, ratings, movies, slice(None), 1)
    summed: dict[str, torch.Tensor] = {}
    for rank in range(size):
        share = World(rank=rank, size=size).shard(len(users))
        part = _gradients(step, users[share], movies[share], ratings[share], movies, share, size)
        for name, grad in part.items():
            summed[name] = summed.get(name, torch.zeros_like(grad)) + grad / size
    assert summed.keys() == whole.keys()
    for name, grad in whole.items():
        torch.testing.assert_close(summed[name], grad, rtol=1e-5, atol=1e-6, msg=name)


def _train(args: list[str], out: Path, processes: int) -> dict[str, Any]:
    if processes == 1:
        result = runner.invoke(app, [*args, "--out", str(out), "--json"])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))
    command = [str(TORCHRUN), "--standalone", "--nproc-per-node", str(processes)]
    command += ["-m", "reelrank", *args, "--out", str(out), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=ENV)
    assert done.returncode == 0, _why(done.stderr)
    return dict(json.loads(done.stdout))  # one JSON object: only rank 0 reports


def _why(stderr: str) -> str:
    """The lines that say why a run failed: the first process to fail is often rank 0, whose
    message is far above the other ranks' tracebacks and torchrun's summary."""
    telling = ("terminate", "[rank0]", "Error", "error", "Exception", "abort")
    lines = [line for line in stderr.splitlines() if any(word in line for word in telling)]
    return "\n".join(lines[:60]) + "\n...\n" + stderr[-2000:]


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not beside this python")
@pytest.mark.parametrize(
    ("preset", "tolerance"),
    # Stated tolerances, for the largest difference of any weight after training: the rating
    # model (Adagrad) matches to float rounding; AdamW divides each step by a running root mean
    # square, which lets rounding differences in near-zero gradients grow a little.
    [("seed", 1e-4), ("two-tower", 2e-2)],
)
def test_two_gloo_processes_train_the_weights_one_process_does(
    preset: str, tolerance: float, grouplens_dir: Path, tmp_path: Path
) -> None:
    args = ["train", "--preset", preset, "--data", str(grouplens_dir), "--batch-size", "256"]
    args += ["--epochs", "3"]
    one = _train(args, tmp_path / "one", 1)
    two = _train(args, tmp_path / "two", 2)
    # Only rank 0 wrote: one artifact, no checkpoints left, nothing else.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]
    assert json.loads((tmp_path / "two" / "config.json").read_text())["data"]["processes"] == 2
    mine, theirs = (load_file(tmp_path / n / "weights.safetensors") for n in ("two", "one"))
    assert mine.keys() == theirs.keys()
    worst = max(float((mine[k] - theirs[k]).abs().max()) for k in theirs)
    assert worst <= tolerance
    for key, value in one["metrics"].items():
        assert two["metrics"][key] == pytest.approx(value, abs=1e-3), key


def test_nproc_runs_this_command_under_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    launched: list[list[str]] = []

    def run(command: list[str], check: bool) -> subprocess.CompletedProcess[str]:
        launched.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(sys, "argv", ["reelrank", "train", "--nproc", "3", "--epochs", "2"])
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    result = runner.invoke(app, ["train", "--nproc", "3", "--epochs", "2"])
    assert result.exit_code == 0, result.output
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    assert launched == [
        [*torchrun, "--nproc-per-node", "3", "-m", "reelrank", "train", "--epochs", "2"]
    ]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    result = runner.invoke(app, ["train", "--nproc", "2"])
    assert result.exit_code == 1 and "leave it out under torchrun" in result.stderr


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not beside this python")
def test_two_processes_killed_mid_epoch_resume_to_the_same_end(
    grouplens_dir: Path, tmp_path: Path
) -> None:
    from test_checkpoints import KILLER  # this folder is on the path: pytest imports it so

    killer = tmp_path / "killer.py"
    killer.write_text(KILLER)
    args = ["train", "--data", str(grouplens_dir), "--batch-size", "256", "--epochs", "3"]
    args += ["--checkpoint-every", "2"]
    whole = _train(args, tmp_path / "whole", 2)
    out = tmp_path / "model"
    command = [str(TORCHRUN), "--standalone", "--nproc-per-node", "2", str(killer), "step", "8"]
    command += [*args, "--out", str(out)]
    killed = subprocess.run(command, capture_output=True, text=True, timeout=600, env=ENV)
    assert killed.returncode != 0 and not out.exists()
    resumed = _train([*args, "--resume", f"{out}.checkpoints"], out, 2)
    assert resumed["metrics"] == whole["metrics"]
