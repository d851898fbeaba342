import json
import os
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

    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256((path / name).read_bytes()).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))


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
        "manifest.json",
        "config.json",
        "weights.safetensors",
        "vocab_users.json",
        "vocab_movies.json",
        "catalog.json",
        "metrics.json",
    }
    assert json.loads((artifact / "manifest.json").read_text())["schema_version"] == SCHEMA_VERSION


def test_missing_artifact_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no artifact at"):
        Recommender.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match=r"manifest\.json is missing"):
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
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["schema_version"] = 999
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="schema version 999"):
        Recommender.load(copy)
    (copy / "manifest.json").unlink()  # as an artifact of schema 3 and before
    with pytest.raises(ArtifactError, match=r"schema version 4 and no manifest\.json"):
        Recommender.load(copy)


def test_an_edited_config_is_caught_by_the_manifest(artifact: Path, tmp_path: Path) -> None:
    copy = _copy(artifact, tmp_path)
    config = json.loads((copy / "config.json").read_text())
    config["experiment"]["candidates"] = 7
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match=r"config\.json is corrupt"):
        Recommender.load(copy)


@pytest.mark.parametrize(
    "files",
    [{}, "partial", "traversal", "extra", ["config.json"]],
    ids=["empty", "partial", "traversal", "extra", "not-a-mapping"],
)
def test_an_emptied_partial_or_escaping_manifest_is_refused(
    artifact: Path, tmp_path: Path, files: object
) -> None:
    """Emptying the manifest once switched the checks off, and a name like ../../etc/passwd made
    the loader hash a file outside the artifact."""
    copy = _copy(artifact, tmp_path)
    data = bytearray((copy / "weights.safetensors").read_bytes())
    data[-10] ^= 0xFF  # a corruption the manifest must still catch
    (copy / "weights.safetensors").write_bytes(bytes(data))
    manifest = json.loads((copy / "manifest.json").read_text())
    if files == "partial":
        files = {k: v for k, v in manifest["files"].items() if k != "weights.safetensors"}
    elif files == "traversal":
        files = {**manifest["files"], "../../../../etc/passwd": "0" * 64}
        del files["weights.safetensors"]
    elif files == "extra":
        files = {**manifest["files"], "notes.txt": "0" * 64}
    manifest["files"] = files
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="must list the checksums of exactly"):
        Recommender.load(copy)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "directory"])
def test_only_regular_files_are_read(artifact: Path, tmp_path: Path, kind: str) -> None:
    """A FIFO in place of config.json once hung the loader for ever."""
    copy = _copy(artifact, tmp_path)
    for name in ("config.json", "manifest.json"):
        target = copy / name
        original = tmp_path / f"outside-{name}"
        shutil.move(target, original)
        if kind == "fifo":
            os.mkfifo(target)
        elif kind == "symlink":
            target.symlink_to(original)
        else:
            target.mkdir()
        with pytest.raises(ArtifactError, match=r"not a regular file"):
            Recommender.load(copy)
        if target.is_dir() and not target.is_symlink():
            target.rmdir()
        else:
            target.unlink()
        shutil.move(original, target)


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
