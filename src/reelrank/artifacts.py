"""The artifact format: a directory of safetensors + JSON, written atomically, read strictly.

```
ARTIFACT/
  config.json          schema_version, experiment config, sizes, sha256 of every other file
  weights.safetensors  every tensor (models, index, seen-items table, catalogue arrays)
  vocab_users.json     the user-id vocabulary
  vocab_movies.json    the title vocabulary
  catalog.json         movie ids per title row and every MovieLens id's title
  metrics.json         evaluation of the trained models
```

Never pickle: tensors go through safetensors, everything else is JSON. A half-written artifact never
appears under its final name: files are written into a temporary sibling directory first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from reelrank.types import ArtifactError

SCHEMA_VERSION = 1
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


def save_artifact(path: str | Path, contents: ArtifactContents) -> Path:
    """Write `contents` to directory `path`, atomically; returns the path.

    An existing artifact at `path` is replaced only once the new one is complete; any other existing
    directory is left alone and reported, so no user data is ever deleted.
    """
    target = Path(path)
    if target.exists() and not _is_replaceable(target):
        raise ArtifactError(
            f"{target} exists and is not a reelrank artifact; choose another --out directory "
            "or remove it yourself"
        )
    missing = set(JSON_FILES) - set(contents.documents)
    if missing:
        raise ValueError(f"artifact documents missing: {sorted(missing)}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        )
    except OSError as error:
        raise ArtifactError(_cannot_write(target, error)) from error
    try:
        _chmod_like_umask(staging, 0o777)  # mkdtemp makes it owner-only
        # Cloned: safetensors refuses tensors that share memory (tied multitask embeddings).
        tensors = {name: t.detach().cpu().clone() for name, t in contents.tensors.items()}
        save_file(tensors, staging / WEIGHTS_FILE)
        for name in JSON_FILES:
            _write_json(staging / name, contents.documents[name])
        _write_json(staging / METRICS_FILE, contents.metrics)
        config = dict(contents.config)
        config["schema_version"] = SCHEMA_VERSION
        config["files"] = {
            name: _sha256(staging / name) for name in (WEIGHTS_FILE, *JSON_FILES, METRICS_FILE)
        }
        _write_json(staging / CONFIG_FILE, config)
        for file in staging.iterdir():
            _chmod_like_umask(file, 0o666)
        _swap_into_place(staging, target)
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
    if not root.is_dir():
        raise ArtifactError(
            f"no artifact at {root}: expected a directory made by `reelrank train --out {root}`"
        )
    config = _read_json(root / CONFIG_FILE)
    version = config.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtifactError(
            f"{root} has artifact schema version {version!r}; this reelrank reads version "
            f"{SCHEMA_VERSION}. Retrain with this version of reelrank."
        )
    files = config.get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"{root / CONFIG_FILE} lacks the 'files' checksums; retrain the model")
    for name, expected in files.items():
        if not (root / name).is_file():
            raise ArtifactError(f"{root} is incomplete: {name} is missing; retrain the model")
        if _sha256(root / name) != expected:
            raise ArtifactError(
                f"{root / name} is corrupt (its checksum does not match config.json); "
                "retrain or restore the artifact"
            )
    try:
        tensors = load_file(root / WEIGHTS_FILE)
    except (SafetensorError, OSError) as error:
        raise ArtifactError(f"{root / WEIGHTS_FILE} cannot be read ({error}); retrain") from None
    documents = {name: _read_json(root / name) for name in JSON_FILES}
    return ArtifactContents(config, tensors, documents, _read_json(root / METRICS_FILE))


def _is_replaceable(target: Path) -> bool:
    """An empty directory or a previous artifact may be replaced; nothing else."""
    if not target.is_dir():
        return False
    entries = {p.name for p in target.iterdir()}
    return not entries or (CONFIG_FILE in entries and entries <= _artifact_files())


def _artifact_files() -> set[str]:
    return {CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE, *JSON_FILES}


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename `staging` to `target`; an old artifact is moved aside first and removed last."""
    if not target.exists():
        os.replace(staging, target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(old, target)  # put the previous artifact back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _chmod_like_umask(path: Path, mode: int) -> None:
    """Give `path` the permissions a plainly created file or directory would have."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(mode & ~umask)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _read_json(path: Path) -> dict[str, Any]:
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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
