"""The artifact directory: its files, their manifest, verification, and crash-safe writing.

```
ARTIFACT/
  manifest.json        schema_version and the sha256 of every other file (written last)
  config.json          schema_version, experiment config, sizes, index config
  weights.safetensors  every tensor, once: model weights, the index's own structures (an HNSW
                       graph; never a copy of the model's vectors), the users' training ratings
                       (CSR), the movies' genres and years
  vocab_users.json     the user-id vocabulary
  vocab_movies.json    the title vocabulary
  catalog.json         movie ids per title row and every MovieLens id's title
  metrics.json         evaluation of the trained models
```

Never pickle: tensors go through safetensors, everything else is JSON. Loading reads only regular
files, and only after each matches the manifest, which must name exactly the files above. A
half-written artifact never appears under its final name: files are written into a temporary
sibling directory first, flushed to disk, and renamed; a writer killed between the two renames of
a replacement is finished or rolled back by `recover` on the next load or save.

This module handles the directory as plain data (`ArtifactContents`); `parts` (beside it) maps a
recommender's parts to and from it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from reelrank.errors import ArtifactError
from reelrank.files import (
    crash_point,
    fsync_path,
    fsync_tree,
    sha256_file,
    stale_temporaries,
    sweep_stale,
    temporary_name,
)

# 2: tensors stored once (no index copy of the movie vectors, no dense EASE user matrix).
# 3: a blend's movie vectors gain a popularity column, and its fold-in weights are stored.
# 4: manifest.json holds the checksums of every other file, config.json included.
# 5: data_info's ratings_sha256 is `Interactions.fingerprint` (ids once, then codes per row).
# 6: every rating model saves a `rating_scale` buffer.
# 7: the rating model is the config's `rating` and its tensors are prefixed `rater.`.
SCHEMA_VERSION = 7
MANIFEST_FILE = "manifest.json"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
METRICS_FILE = "metrics.json"
JSON_FILES = ("vocab_users.json", "vocab_movies.json", "catalog.json")


@dataclass(frozen=True)
class ArtifactContents:
    """What an artifact holds, as plain data: the caller builds models from it."""

    config: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    documents: dict[str, Any]  # parsed JSON files by name (vocabularies, catalogue)
    metrics: dict[str, Any]


def check_target(path: str | Path) -> Path:
    """That an artifact can be written at `path`, checked before any work is spent on one: not a
    file, not a directory holding something else, under a directory that can be written (a
    directory is created and removed there to be sure). Returns the path; an `ArtifactError`
    naming the problem and the fix otherwise."""
    target = Path(path)
    if target.is_file() or (target.exists() and not target.is_dir()):
        raise ArtifactError(f"{target} is a file, not a directory; choose another --out directory")
    if target.exists() and not _is_replaceable(target):
        raise ArtifactError(
            f"{target} exists and is not a reelrank artifact; choose another --out directory "
            "or remove it yourself"
        )
    existing = target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ArtifactError(
            f"cannot write the artifact to {target}: {existing} is a file, not a directory; "
            "choose another --out directory"
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".probe", dir=existing))
    except OSError as error:
        raise ArtifactError(_cannot_write(target, error)) from error
    return target


def save_artifact(path: str | Path, contents: ArtifactContents) -> Path:
    """Write `contents` to directory `path`, atomically; returns the path.

    An existing artifact at `path` is replaced only once the new one is complete; any other existing
    directory is left alone and reported, so no user data is ever deleted.
    """
    target = Path(path)
    recover(target)
    check_target(target)
    missing = set(JSON_FILES) - set(contents.documents)
    if missing:
        raise ValueError(f"artifact documents missing: {sorted(missing)}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = temporary_name(target, "tmp")
        staging.mkdir()
    except OSError as error:
        raise ArtifactError(_cannot_write(target, error)) from error
    try:
        # Cloned: safetensors refuses tensors that share memory (tied multitask embeddings).
        tensors = {name: t.detach().cpu().clone() for name, t in contents.tensors.items()}
        save_file(tensors, staging / WEIGHTS_FILE)
        crash_point("artifact:writing")
        for name in JSON_FILES:
            _write_json(staging / name, contents.documents[name])
        _write_json(staging / METRICS_FILE, contents.metrics)
        _write_json(staging / CONFIG_FILE, {**contents.config, "schema_version": SCHEMA_VERSION})
        # Last: it vouches for every other file, so it is written once they are complete.
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "files": {name: sha256_file(staging / name) for name in sorted(_covered_files())},
        }
        _write_json(staging / MANIFEST_FILE, manifest)
        for file in staging.iterdir():
            _chmod_like_umask(file, 0o666)
        fsync_tree(staging)
        crash_point("artifact:staged")
        swap_into_place(staging, target)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError):  # disk full, no permission: the place, not the program
            raise ArtifactError(_cannot_write(target, error)) from error
        raise
    return target


def _cannot_write(target: Path, error: OSError) -> str:
    return (
        f"cannot write the artifact to {target}: {error.strerror or error}; choose another --out "
        "directory or free some space"
    )


def load_artifact(path: str | Path) -> ArtifactContents:
    """Read and verify an artifact; any problem is an `ArtifactError` saying what and how to fix."""
    root = Path(path)
    recover(root)
    if not root.is_dir():
        raise ArtifactError(
            f"no artifact at {root}: expected a directory made by `reelrank train --out {root}`"
        )
    _verify_manifest(root)
    config = _read_json(root / CONFIG_FILE)
    try:
        tensors = load_file(root / WEIGHTS_FILE)
    except (SafetensorError, OSError) as error:
        raise ArtifactError(f"{root / WEIGHTS_FILE} cannot be read ({error}); retrain") from None
    documents = {name: _read_json(root / name) for name in JSON_FILES}
    return ArtifactContents(config, tensors, documents, _read_json(root / METRICS_FILE))


def _verify_manifest(root: Path) -> None:
    """Every file of the artifact is a regular file inside it whose checksum is the one
    `manifest.json` records, and the manifest names exactly those files: an emptied, partial or
    edited manifest is refused, as is anything it would lead outside the directory."""
    if not os.path.lexists(root / MANIFEST_FILE) and _regular(root / CONFIG_FILE):
        version = _read_json(root / CONFIG_FILE).get("schema_version")
        raise ArtifactError(
            f"{root} has artifact schema version {version!r} and no {MANIFEST_FILE}; this "
            f"reelrank reads version {SCHEMA_VERSION}. Retrain with this version of reelrank."
        )
    manifest = _read_json(root / MANIFEST_FILE)
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtifactError(
            f"{root} has artifact schema version {version!r}; this reelrank reads version "
            f"{SCHEMA_VERSION}. Retrain with this version of reelrank."
        )
    files = manifest.get("files")
    expected = _covered_files()
    if not isinstance(files, dict) or set(files) != expected:
        named = sorted(files) if isinstance(files, dict) else files
        raise ArtifactError(
            f"{root / MANIFEST_FILE} must list the checksums of exactly {sorted(expected)}, "
            f"not {named!r}; the artifact was altered: retrain or restore it"
        )
    for name in sorted(expected):
        path = root / name
        if not _regular(path):
            raise ArtifactError(
                f"{root} is incomplete: {name} is missing or not a regular file; retrain the model"
            )
        if sha256_file(path) != files[name]:
            raise ArtifactError(
                f"{path} is corrupt (its checksum does not match {MANIFEST_FILE}); "
                "retrain or restore the artifact"
            )


def _regular(path: Path) -> bool:
    """A regular file, not a link, FIFO, device or directory: only those are read."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _covered_files() -> set[str]:
    """The files `manifest.json` vouches for."""
    return {CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE, *JSON_FILES}


def _is_replaceable(target: Path) -> bool:
    """An empty directory or a previous artifact may be replaced; nothing else."""
    if not target.is_dir():
        return False
    entries = {p.name for p in target.iterdir()}
    return not entries or (CONFIG_FILE in entries and entries <= _artifact_files())


def _artifact_files() -> set[str]:
    return {MANIFEST_FILE, *_covered_files()}


def swap_into_place(staging: Path, target: Path) -> None:
    """Rename the complete `staging` to `target`; an old artifact is moved aside first and removed
    last. A crash between the two renames leaves no artifact at `target`, but a complete one
    beside it either way: `recover` finishes the swap (or rolls it back) on the next load or
    save."""
    if not target.exists():
        os.replace(staging, target)
        fsync_path(target.parent)
        return
    old = temporary_name(target, "old")
    os.replace(target, old)
    fsync_path(target.parent)
    crash_point("artifact:moved-aside")
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(old, target)  # put the previous artifact back
        raise
    fsync_path(target.parent)
    crash_point("artifact:swapped")
    shutil.rmtree(old, ignore_errors=True)


def recover(target: Path) -> None:
    """Put right what a writer killed at `target` left (see `swap_into_place`): with no artifact
    at `target`, the newest complete new one (its manifest is written last) is moved in, else the
    old one back; then the temporaries of writers that are gone are removed. Nothing of a live
    writer is touched; a place that cannot be written is left as it is."""
    try:
        if not os.path.lexists(target):
            stale = stale_temporaries(target, ("tmp", "old"))
            complete = [p for p in stale if ".tmp-" in p.name and _regular(p / MANIFEST_FILE)]
            previous = [p for p in stale if ".old-" in p.name]
            restore = complete[0] if complete else previous[0] if previous else None
            if restore is not None:
                os.replace(restore, target)
                fsync_path(target.parent)
        sweep_stale(target, ("tmp", "old"))
    except OSError:
        pass  # read-only or vanished: loading goes on and reports what it finds


def _chmod_like_umask(path: Path, mode: int) -> None:
    """Give `path` the permissions a plainly created file or directory would have."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(mode & ~umask)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _read_json(path: Path) -> dict[str, Any]:
    if os.path.lexists(path) and not _regular(path):  # a FIFO would block the read for ever
        raise ArtifactError(f"{path} is not a regular file; the artifact is corrupt")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(
            f"{path.parent} is not a complete reelrank artifact: {path.name} is missing"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(
            f"{path} is not valid JSON ({error}); the artifact is corrupt"
        ) from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path} should hold a JSON object; the artifact is corrupt")
    return data
