import contextlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from reelrank.artifacts import directory as artifact_dir
from reelrank.artifacts.directory import SCHEMA_VERSION, check_target
from reelrank.config import ExperimentConfig, RatingComponent, RatingModelConfig, TrainingConfig
from reelrank.errors import ArtifactError
from reelrank.experiment.run import train_recommender
from reelrank.models.rating.ensemble import Ensemble
from reelrank.recommender.recommender import Recommender
from reelrank.types import Ratings


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
        tensors["rater.bonus"] = torch.zeros(1)
        match = "unexpected"
    elif change == "missing":
        del tensors["rater.ratings.0.bias"]
        match = "missing"
    else:
        tensors["rater.ratings.0.bias"] = torch.zeros(3)
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
    no_manifest = rf"schema version {SCHEMA_VERSION} and no manifest\.json"
    with pytest.raises(ArtifactError, match=no_manifest):
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

    monkeypatch.setattr(artifact_dir.tempfile, "mkdtemp", refuse)
    target = tmp_path / "deep" / "model"
    with pytest.raises(ArtifactError, match="Permission denied") as error:
        check_target(target)
    assert str(target) in str(error.value) and ".probe" not in str(error.value)
    assert not (tmp_path / "deep").exists()  # nothing was created on the way


def _resign(path: Path) -> None:
    """Recompute every checksum of the manifest: tampering that a careless or hostile editor
    would re-sign, which the checks after the manifest must still catch."""
    import hashlib

    manifest = json.loads((path / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((path / name).read_bytes()).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))


def _edit_config(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    config = json.loads((path / "config.json").read_text())
    edit(config)
    (path / "config.json").write_text(json.dumps(config))
    _resign(path)


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("rating", "embedding_dim"), "32", "embedding_dim: expected an integer, got '32'"),
        (("rating", "embedding_dim"), -4, "embedding_dim: must lie in [1, 4096], got -4"),
        (("rating", "embedding_dim"), 10**9, "embedding_dim: must lie in [1, 4096]"),
        (("rating", "hidden_dims"), [10**7, 10**7], "hidden_dims: must lie in [1, 16384]"),
        (("candidates",), "100", "candidates: expected an integer, got '100'"),
        (("training", "learning_rate"), None, "learning_rate: expected a number, got None"),
        (("index",), "annoy", "index: must be one of ['auto', 'brute_force', 'hnsw']"),
        (("split",), "random:7", "random:7"),
        (("shared_embeddings",), "yes", "shared_embeddings: expected true or false"),
    ],
)
def test_a_tampered_config_is_refused_at_load_naming_the_field(
    artifact: Path, tmp_path: Path, where: tuple[str, ...], value: Any, message: str
) -> None:
    """Values that once gave tracebacks at load, 2.8 GB allocations, or a model that failed on
    every request."""
    copy = _copy(artifact, tmp_path)

    def edit(config: dict[str, Any]) -> None:
        section = config["experiment"]
        for key in where[:-1]:
            section = section[key]
        section[where[-1]] = value

    _edit_config(copy, edit)
    with pytest.raises(ArtifactError, match=re.escape(message)):
        Recommender.load(copy)


@pytest.mark.parametrize("sizes", ["x", {"n_users": 1, "n_movies": 1}, None])
def test_sizes_that_do_not_fit_are_refused(artifact: Path, tmp_path: Path, sizes: Any) -> None:
    copy = _copy(artifact, tmp_path)
    _edit_config(copy, lambda config: config.update(sizes=sizes))
    with pytest.raises(ArtifactError, match="sizes"):
        Recommender.load(copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("nan-weights", "holds NaN or infinite values"),
        ("inf-rating", "holds NaN or infinite values"),
        ("indptr-decreases", "row pointers"),
        ("indptr-short", "row pointers do not span"),
        ("movie-out-of-range", "movie index lies outside"),
        ("movie-zero", "movie index lies outside"),
    ],
)
def test_corrupt_tensors_are_refused_at_load(
    artifact: Path, tmp_path: Path, change: str, message: str
) -> None:
    """Re-signed weights with NaN, a bad `seen.indptr` or an out-of-range `seen.movie_idx` once
    gave silent NaN or wrong lists, a CLI traceback or a 500 per request."""
    copy = _copy(artifact, tmp_path)
    tensors = load_file(copy / "weights.safetensors")
    if change == "nan-weights":
        name = next(k for k in tensors if k.startswith("rater.") and k.endswith("weight"))
        tensors[name] = tensors[name].clone()
        tensors[name].view(-1)[0] = float("nan")
    elif change == "inf-rating":
        tensors["seen.rating"] = tensors["seen.rating"].clone()
        tensors["seen.rating"][0] = float("inf")
    elif change == "indptr-decreases":
        indptr = tensors["seen.indptr"].clone()
        indptr[2], indptr[3] = indptr[3], indptr[2] - 1
        tensors["seen.indptr"] = indptr
    elif change == "indptr-short":
        tensors["seen.indptr"] = tensors["seen.indptr"].clone()
        tensors["seen.indptr"][-1] -= 1
    elif change == "movie-out-of-range":
        tensors["seen.movie_idx"] = tensors["seen.movie_idx"].clone()
        tensors["seen.movie_idx"][5] = 10**6
    else:
        tensors["seen.movie_idx"] = tensors["seen.movie_idx"].clone()
        tensors["seen.movie_idx"][5] = 0
    save_file(tensors, copy / "weights.safetensors")
    _resign(copy)
    with pytest.raises(ArtifactError, match=message):
        Recommender.load(copy)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_config_value_loads_or_is_a_clear_artifact_error(
    artifact: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Property: replace any one value of the experiment config (re-signed) with any JSON value;
    loading either works or raises `ArtifactError`, never anything else."""
    copy = Path(shutil.copytree(artifact, tmp_path_factory.mktemp("fuzz") / "copy"))
    config = json.loads((copy / "config.json").read_text())
    paths: list[tuple[str, ...]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append((*path, key))
                walk(value, (*path, key))

    walk(config["experiment"], ())
    where = data.draw(st.sampled_from(paths))
    value = data.draw(_JSON)
    section = config["experiment"]
    for key in where[:-1]:
        section = section[key]
    section[where[-1]] = value
    (copy / "config.json").write_text(json.dumps(config))
    _resign(copy)
    with contextlib.suppress(ArtifactError):  # either outcome is fine; any other error is not
        Recommender.load(copy)


def test_an_ensembles_held_out_ratings_load_or_are_refused(
    ratings: Ratings, tmp_path: Path
) -> None:
    fast = TrainingConfig(batch_size=256, epochs=1, validation_fraction=0.1)
    members = (RatingComponent(RatingModelConfig(kind="mf", embedding_dim=4), fast),) * 2
    config = ExperimentConfig(
        preset="test-ensemble",
        rating=RatingModelConfig(kind="ensemble", components=members),
        training=fast,
    )
    saved = train_recommender(ratings, config).save(tmp_path / "ensemble")
    loaded = Recommender.load(saved)
    assert isinstance(loaded.rater, Ensemble) and len(loaded.rater.held_out) > 0
    tensors = load_file(saved / "weights.safetensors")
    # An artifact from before the held-out ratings were kept loads, with none.
    older = {k: v for k, v in tensors.items() if k != "rater.held_out"}
    save_file(older, saved / "weights.safetensors")
    _resign(saved)
    assert len(Recommender.load(saved).rater.held_out) == 0  # type: ignore[union-attr]
    corrupt = dict(tensors)
    corrupt["rater.held_out"] = tensors["rater.held_out"].clone()
    corrupt["rater.held_out"][0, 1] = 10**6
    save_file(corrupt, saved / "weights.safetensors")
    _resign(saved)
    with pytest.raises(ArtifactError, match="held-out ratings are corrupt"):
        Recommender.load(saved)
