import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from reelrank import artifacts as artifacts_module
from reelrank.artifacts import SCHEMA_VERSION, check_target
from reelrank.recommender import Recommender
from reelrank.types import ArtifactError


def _copy(artifact: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(artifact, tmp_path / "copy"))


def _refresh_checksum(path: Path, name: str) -> None:
    import hashlib

    config = json.loads((path / "config.json").read_text())
    config["files"][name] = hashlib.sha256((path / name).read_bytes()).hexdigest()
    (path / "config.json").write_text(json.dumps(config))


def test_round_trip_gives_identical_recommendations(
    recommender: Recommender, artifact: Path
) -> None:
    loaded = Recommender.load(artifact)
    assert loaded.config == recommender.config
    assert loaded.catalog.vocabs == recommender.catalog.vocabs
    assert loaded.metrics == pytest.approx(recommender.metrics)
    assert loaded.recommend("3", 5) == recommender.recommend("3", 5)
    assert np.array_equal(loaded.seen.movie_idx, recommender.seen.movie_idx)
    names = {p.name for p in artifact.iterdir()}
    assert names == {
        "config.json",
        "weights.safetensors",
        "vocab_users.json",
        "vocab_movies.json",
        "catalog.json",
        "metrics.json",
    }
    assert json.loads((artifact / "config.json").read_text())["schema_version"] == SCHEMA_VERSION


def test_missing_artifact_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no artifact at"):
        Recommender.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match=r"config\.json is missing"):
        Recommender.load(tmp_path / "empty")


def test_corrupt_weights_are_detected(artifact: Path, tmp_path: Path) -> None:
    copy = _copy(artifact, tmp_path)
    data = bytearray((copy / "weights.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (copy / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="corrupt"):
        Recommender.load(copy)


def test_truncated_weights_are_detected_even_with_matching_checksum(
    artifact: Path, tmp_path: Path
) -> None:
    copy = _copy(artifact, tmp_path)
    weights = copy / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    _refresh_checksum(copy, "weights.safetensors")
    with pytest.raises(ArtifactError, match="cannot be read"):
        Recommender.load(copy)


@pytest.mark.parametrize("change", ["extra", "missing", "shape"])
def test_strict_tensor_loading(artifact: Path, tmp_path: Path, change: str) -> None:
    copy = _copy(artifact, tmp_path)
    tensors = load_file(copy / "weights.safetensors")
    if change == "extra":
        tensors["ranking.bonus"] = torch.zeros(1)
        match = "unexpected"
    elif change == "missing":
        del tensors["ranking.ratings.0.bias"]
        match = "missing"
    else:
        tensors["ranking.ratings.0.bias"] = torch.zeros(3)
        match = "has shape"
    save_file(tensors, copy / "weights.safetensors")
    _refresh_checksum(copy, "weights.safetensors")
    with pytest.raises(ArtifactError, match=match):
        Recommender.load(copy)


def test_unknown_schema_version(artifact: Path, tmp_path: Path) -> None:
    copy = _copy(artifact, tmp_path)
    config = json.loads((copy / "config.json").read_text())
    config["schema_version"] = 999
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="schema version 999"):
        Recommender.load(copy)


def test_save_replaces_an_artifact_but_never_a_foreign_directory(
    recommender: Recommender, tmp_path: Path
) -> None:
    target = tmp_path / "model"
    recommender.save(target)
    recommender.save(target)  # replacing a previous artifact is fine
    assert Recommender.load(target).catalog.vocabs == recommender.catalog.vocabs
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ArtifactError, match="not a reelrank artifact"):
        recommender.save(foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_check_target_names_the_target_not_a_temporary_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only place is found before training (root may write anywhere, so the refusal the
    operating system would give is simulated)."""

    def refuse(**_: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(artifacts_module.tempfile, "mkdtemp", refuse)
    target = tmp_path / "deep" / "model"
    with pytest.raises(ArtifactError, match="Permission denied") as error:
        check_target(target)
    assert str(target) in str(error.value) and ".probe" not in str(error.value)
    assert not (tmp_path / "deep").exists()  # nothing was created on the way
