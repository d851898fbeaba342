"""`--device` and `--precision`: the CPU by default, a GPU only when there is one, bf16 checked."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reelrank.config import ExperimentConfig, TrainingConfig
from reelrank.devices import check_precision, native_bf16, resolve_device
from reelrank.experiment import train_recommender
from reelrank.types import Ratings, ReelrankError


def test_auto_takes_a_gpu_only_when_there_is_one() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ReelrankError, match="unknown device 'tpu'"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_says_so() -> None:
    for name in ("cuda", "cuda:0"):
        with pytest.raises(ReelrankError, match="sees no CUDA GPU"):
            resolve_device(name)


def test_precision_is_checked_and_emulated_bf16_is_reported() -> None:
    notes: list[str] = []
    with pytest.raises(ReelrankError, match="fp32 or bf16"):
        check_precision("fp16", torch.device("cpu"), notes.append)
    check_precision("bf16", torch.device("cpu"), notes.append)
    assert bool(notes) == (not native_bf16(torch.device("cpu")))
    check_precision("fp32", torch.device("cpu"), notes.append)
    assert len(notes) <= 1


def test_bf16_training_lands_near_fp32(ratings: Ratings) -> None:
    base = ExperimentConfig(preset="test", training=TrainingConfig(batch_size=256, epochs=5))
    half = dataclasses.replace(base, training=dataclasses.replace(base.training, precision="bf16"))
    full = train_recommender(ratings, base, device=resolve_device("cpu"))
    bf16 = train_recommender(ratings, half, device=resolve_device("cpu"))
    rmse = "root_mean_squared_error"
    assert full.metrics[rmse] != bf16.metrics[rmse]  # bf16 really ran
    assert abs(full.metrics[rmse] - bf16.metrics[rmse]) < 0.02
    assert bf16.ranking is not None and bf16.ranking.user_embedding.weight.dtype == torch.float32


def test_cli_refuses_a_missing_gpu_and_an_unknown_precision(tmp_path: object) -> None:
    from typer.testing import CliRunner

    from reelrank.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["train", "--precision", "fp16", "--out", f"{tmp_path}/m"])
    assert result.exit_code != 0 and "--precision must be fp32 or bf16" in result.stderr
    if not torch.cuda.is_available():
        result = runner.invoke(app, ["train", "--device", "cuda", "--out", f"{tmp_path}/m"])
        assert result.exit_code != 0 and "sees no CUDA GPU" in result.stderr
        assert "Traceback" not in result.stderr
