"""`--device` and `--precision`: the CPU by default, a GPU only when there is one, bf16 checked;
evaluation and serving on a device give what they give on the CPU (on a GPU only where there is
one: these machines have none, so there the CPU path is what runs)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from reelrank.config import ExperimentConfig, RatingModelConfig, TrainingConfig, preset
from reelrank.errors import ReelrankError
from reelrank.experiment.run import evaluate_recommender, train_recommender
from reelrank.index import BruteForceIndex
from reelrank.recommender.recommender import Recommender
from reelrank.runtime.devices import check_precision, native_bf16, resolve_device
from reelrank.types import Ratings


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
    assert bf16.rater is not None and bf16.rater.user_embedding.weight.dtype == torch.float32


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


# --- evaluate and serve on a device ---------------------------------------------------------------

DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.fixture(scope="module")
def two_stage_artifact(ratings: Ratings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = dataclasses.replace(
        preset("two-stage"),
        rating=RatingModelConfig(),  # the seed's rating model: quick, and on the device too
        training=TrainingConfig(batch_size=256, epochs=2),
        retrieval_training=TrainingConfig(batch_size=256, epochs=2, optimizer="adam"),
        candidates=20,
    )
    return train_recommender(ratings, config).save(tmp_path_factory.mktemp("dev") / "two-stage")


def _tensors(recommender: Recommender) -> list[torch.Tensor]:
    """Every tensor a recommender computes with."""
    out: list[torch.Tensor] = []
    for model in (recommender.rater, recommender.retrieval):
        if model is not None:
            out += [*model.parameters(), *model.buffers()]
    if isinstance(recommender.index, BruteForceIndex):
        out.append(recommender.index.vectors)
    return out


def _served(recommender: Recommender) -> list[object]:
    """What a person is served: lists for known users (both orders), from liked movies, similar
    movies, scores, and the lists evaluation scores."""
    titles = [recommender.catalog.movie_title(m) for m in (1, 2)]
    out: list[object] = [
        recommender.recommend(1, k=5),
        recommender.score(2, titles),
        recommender.recommend_many(np.arange(1, 6), 7).movies.tolist(),
    ]
    if recommender.two_stage:
        out += [
            recommender.recommend(3, k=5, order="predicted_rating"),
            recommender.recommend_for_liked(titles, k=5),
            recommender.similar(titles[0], k=5),
        ]
    return out


def _movies(served: list[object]) -> list[list[object]]:
    """The movies of each list in `_served`'s output, without the numbers."""
    return [[getattr(item, "movie_id", item) for item in part] for part in served]  # type: ignore[attr-defined]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("which", ["rating-only", "two-stage"])
def test_a_recommender_serves_the_same_lists_on_any_device(
    device: str, which: str, artifact: Path, two_stage_artifact: Path
) -> None:
    path = artifact if which == "rating-only" else two_stage_artifact
    on_cpu = _served(Recommender.load(path))
    moved = Recommender.load(path).to(device)
    assert moved.device == torch.device(device)
    assert all(t.device.type == device for t in _tensors(moved))
    if device == "cpu":
        assert _served(moved) == on_cpu
    else:  # another device's kernels round differently: the numbers are compared in evaluation
        assert _movies(_served(moved)) == _movies(on_cpu)
    back = moved.to("cpu")
    assert all(t.device.type == "cpu" for t in _tensors(back))


@pytest.mark.parametrize("device", DEVICES)
def test_evaluation_on_a_device_matches_the_cpu(
    device: str, ratings: Ratings, two_stage_artifact: Path
) -> None:
    on_cpu = evaluate_recommender(Recommender.load(two_stage_artifact), ratings)
    moved = evaluate_recommender(Recommender.load(two_stage_artifact).to(device), ratings)
    assert moved.keys() == on_cpu.keys()
    for key, value in on_cpu.items():
        assert moved[key] == pytest.approx(value, abs=1e-4), key


def test_evaluate_report_and_serve_take_a_device(
    two_stage_artifact: Path, grouplens_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from reelrank.cli import app
    from reelrank.service import server

    runner = CliRunner()
    data = ["--data", str(grouplens_dir)]
    base = ["evaluate", str(two_stage_artifact), *data, "--json"]
    plain = runner.invoke(app, base)
    on_cpu = runner.invoke(app, [*base, "--device", "cpu"])
    assert plain.exit_code == 0 and on_cpu.exit_code == 0, on_cpu.output
    assert json.loads(plain.stdout) == json.loads(on_cpu.stdout)
    report = runner.invoke(
        app, ["report", str(two_stage_artifact), *data, "--device", "cpu", "--out", f"{tmp_path}/r"]
    )
    assert report.exit_code == 0, report.output
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(server, "serve", lambda artifact, **kw: calls.append(kw))
    served = runner.invoke(app, ["serve", str(two_stage_artifact), "--device", "cpu"])
    assert served.exit_code == 0 and calls[0]["device"] == torch.device("cpu")
    if not torch.cuda.is_available():
        for command in (base, ["serve", str(two_stage_artifact)]):
            result = runner.invoke(app, [*command, "--device", "cuda"])
            assert result.exit_code == 1 and "sees no CUDA GPU" in result.stderr
            assert "Traceback" not in result.stderr
        assert len(calls) == 1  # the refused serve never started


def test_each_server_worker_moves_its_copy_to_the_device(
    two_stage_artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from reelrank.service.app import ARTIFACT_ENV, DEVICE_ENV, app_from_env

    monkeypatch.setenv(ARTIFACT_ENV, str(two_stage_artifact))
    monkeypatch.setenv(DEVICE_ENV, DEVICES[-1])
    service = app_from_env()
    with TestClient(service) as client:
        assert client.get("/users/1/recommendations").status_code == 200
        assert service.state.recommender.device.type == DEVICES[-1]
