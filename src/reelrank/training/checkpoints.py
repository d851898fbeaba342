"""Checkpoints: a training run that survives a crash or `kill -9` (`reelrank train --resume DIR`).

```
DIR/
  latest.json            which checkpoint is current, and the sha256 of its two files
  step-0000001234/       one checkpoint (the newest complete one; older ones are removed)
    tensors.safetensors  every model's weights, the optimizer's tensors, the RNG states
    state.json           where training stands: phase, epoch, step, running sums, losses so
                         far, the optimizer's other fields, and what run it belongs to
```

Never pickle: tensors go through safetensors, everything else is JSON. A checkpoint is written
into a hidden temporary folder, flushed, renamed, and only then named in `latest.json`, which is
itself replaced atomically: a writer killed at any instant leaves the previous checkpoint
current, and a half-written one is never loaded. Loading checks both files against the sums in
`latest.json` and refuses a checkpoint of another configuration or other data.

Resuming is exact: the shuffle generator's state at the start of the epoch regenerates that
epoch's order, the batches already done are skipped, and the optimizer continues from its saved
state, so a resumed run ends with the same weights as an uninterrupted one (bit for bit on the
CPU in one process).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from reelrank.errors import ReelrankError
from reelrank.files import (
    atomic_write_text,
    crash_point,
    fsync_path,
    fsync_tree,
    sha256_file,
    temporary_name,
)

FORMAT = 1
POINTER = "latest.json"
TENSORS = "tensors.safetensors"
STATE = "state.json"


class CheckpointError(ReelrankError):
    """A checkpoint that is missing, corrupt, or of another run."""


@dataclass
class Position:
    """Where a training run stands.

    `phase` is the loop in progress ("rating", "retrieval" or "multitask"; a preset may train
    rating, then retrieval), or None between phases; `completed` the phases finished, with the
    mean loss of each of their epochs in `history`. Within `phase`: `epoch` (1-based) is in
    progress with `step` batches done, `sums` its running loss sums, and `shuffle` the shuffle
    generator's state when the epoch began.
    """

    phase: str | None = None
    epoch: int = 1
    step: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    shuffle: torch.Tensor | None = None

    @property
    def global_step(self) -> int:
        """A number that grows as training goes on (names the checkpoint folder)."""
        return self.step + 1_000_000 * (self.epoch + 1000 * len(self.completed))

    def describe(self) -> str:
        if self.phase is None:
            return f"after training {' and '.join(self.completed) or 'nothing'}"
        return f"{self.phase} training, epoch {self.epoch}, after step {self.step}"


@dataclass
class Saved:
    """A loaded checkpoint: its position, the state of its models and optimizer."""

    position: Position
    models: dict[str, dict[str, torch.Tensor]]
    optimizer: dict[str, Any] | None
    torch_rng: torch.Tensor


class Checkpoints:
    """The checkpoints of one run in `directory`: written every epoch and, with `every_steps`,
    every that many batches; `identity` (JSON: the configuration and the data's fingerprint)
    says which run they belong to. With `resume`, the newest is loaded now (and must exist).

    The training loop calls `restore` when a phase begins and `save` as it goes; only the
    process that `writes` (rank 0 of several) puts anything on disk.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        identity: dict[str, Any],
        every_steps: int = 0,
        resume: bool = False,
        writes: bool = True,
    ) -> None:
        if every_steps < 0:
            raise ReelrankError(
                f"--checkpoint-every must be 0 (each epoch only) or more, got {every_steps}"
            )
        self.directory = Path(directory)
        self.identity = json.loads(json.dumps(identity))  # as it reads back from JSON
        self.every_steps = every_steps
        self.writes = writes
        self.models: dict[str, nn.Module] = {}
        self.loaded: Saved | None = load(self.directory, self.identity) if resume else None
        self.position = self.loaded.position if self.loaded else Position()

    def track(self, **models: nn.Module | None) -> None:
        """Name the models whose weights every checkpoint holds."""
        self.models |= {name: model for name, model in models.items() if model is not None}

    def restore(self, phase: str, optimizer: Any) -> Position | None:
        """At the start of `phase`: the position to continue from (weights and optimizer state
        put back), or None to start it afresh. A phase the checkpoint finished comes back with
        its weights and `epoch` past the last."""
        saved = self.loaded
        ours = saved is not None and (
            phase in saved.position.completed or saved.position.phase == phase
        )
        if saved is None or not ours:
            self.position.phase = phase
            return None
        for name, model in self.models.items():
            if name in saved.models:
                _load_state(model, saved.models[name], name)
        torch.set_rng_state(saved.torch_rng)
        if phase not in saved.position.completed and saved.optimizer is not None:
            optimizer.load_state_dict(saved.optimizer)
        return saved.position

    def due(self, step: int) -> bool:
        """Whether a checkpoint is due after `step` batches of an epoch."""
        return self.every_steps > 0 and step % self.every_steps == 0

    def save(self, position: Position, optimizer: Any) -> None:
        """Write a checkpoint at `position` (with `optimizer`'s state, None between phases)."""
        self.position = position
        if not self.writes:
            return
        tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
        if position.shuffle is not None:
            tensors["rng.shuffle"] = position.shuffle
        for name, model in self.models.items():
            for key, value in model.state_dict().items():
                tensors[f"model.{name}.{key}"] = value
        optimizer_state = None
        if optimizer is not None:
            optimizer_state = _split_tensors(optimizer.state_dict(), "optimizer", tensors)
        state = {
            "format": FORMAT,
            "identity": self.identity,
            "phase": position.phase,
            "epoch": position.epoch,
            "step": position.step,
            "sums": position.sums,
            "history": position.history,
            "completed": position.completed,
            "models": sorted(self.models),
            "optimizer": optimizer_state,
        }
        _write(self.directory, f"step-{position.global_step:016d}", tensors, state)

    def earlier_run(self) -> bool:
        """Whether the directory holds checkpoints that this run did not load."""
        return self.loaded is None and (self.directory / POINTER).is_file()

    def remove(self) -> None:
        """Delete the checkpoints (the run finished and its artifact is saved): only what they
        are made of, and the directory itself if that leaves it empty."""
        if not self.writes or not self.directory.is_dir():
            return
        for entry in self.directory.iterdir():
            if entry.name.startswith(("step-", ".step-")) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
        (self.directory / POINTER).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.directory.rmdir()  # fails, as it should, when anything else is there


def load(directory: Path, identity: dict[str, Any]) -> Saved:
    """The current checkpoint in `directory`, checked against `latest.json`'s sums and refused
    unless it belongs to the run `identity` describes."""
    pointer_path = directory / POINTER
    if not pointer_path.is_file():
        raise CheckpointError(
            f"no checkpoint to resume in {directory} (it has no {POINTER}); start without --resume"
        )
    try:
        pointer = json.loads(pointer_path.read_text(encoding="utf-8"))
        folder = directory / str(pointer["checkpoint"])
        sums = dict(pointer["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{pointer_path} is unreadable ({error}); start afresh") from None
    for name in (TENSORS, STATE):
        path = folder / name
        if not path.is_file() or sha256_file(path) != sums.get(name):
            raise CheckpointError(
                f"checkpoint {folder} is corrupt or incomplete ({name} does not match its "
                f"checksum in {POINTER}); start afresh without --resume"
            )
    state = json.loads((folder / STATE).read_text(encoding="utf-8"))
    if state.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {folder} has format {state.get('format')}, not {FORMAT}")
    _check_identity(state["identity"], identity, directory)
    try:
        tensors = load_file(folder / TENSORS)
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"checkpoint {folder} cannot be read: {error}") from None
    models: dict[str, dict[str, torch.Tensor]] = {name: {} for name in state["models"]}
    for key, value in tensors.items():
        if key.startswith("model."):
            name, _, rest = key[len("model.") :].partition(".")
            models[name][rest] = value
    position = Position(
        phase=state["phase"],
        epoch=int(state["epoch"]),
        step=int(state["step"]),
        sums={k: float(v) for k, v in state["sums"].items()},
        history={k: [float(x) for x in v] for k, v in state["history"].items()},
        completed=list(state["completed"]),
        shuffle=tensors.get("rng.shuffle"),
    )
    optimizer = None if state["optimizer"] is None else _join_tensors(state["optimizer"], tensors)
    return Saved(position, models, optimizer, tensors["rng.torch"])


def _check_identity(theirs: dict[str, Any], ours: dict[str, Any], directory: Path) -> None:
    """Refuse a checkpoint of another configuration or data, naming what differs."""
    if theirs == ours:
        return
    differs = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    detail = ""
    if "config" in differs and isinstance(theirs.get("config"), dict):
        mine, other = ours.get("config") or {}, theirs["config"]
        fields = sorted(k for k in set(mine) | set(other) if mine.get(k) != other.get(k))
        detail = f" (config fields: {', '.join(fields)})"
    raise CheckpointError(
        f"the checkpoint in {directory} belongs to another run: its {' and '.join(differs)} "
        f"differ{detail}. Resume with the command that started it, or start afresh without "
        "--resume (or with another --checkpoint-dir)"
    )


def _write(
    directory: Path, name: str, tensors: dict[str, torch.Tensor], state: dict[str, Any]
) -> None:
    """Write one checkpoint as `directory/name`, then point `latest.json` at it and remove the
    older ones (see the module docstring for why a crash at any point is harmless)."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / name
    for entry in directory.iterdir():  # what a writer killed mid-write left (one writer a run)
        if entry.name.startswith(".step-"):
            shutil.rmtree(entry, ignore_errors=True)
    staging = temporary_name(final, "tmp")
    staging.mkdir()
    try:
        # Copies: models may share a table (multitask), and safetensors stores no aliases.
        save_file({k: v.detach().cpu().clone() for k, v in tensors.items()}, staging / TENSORS)
        (staging / STATE).write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
        crash_point("checkpoint:written")
        fsync_tree(staging)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        fsync_path(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    crash_point("checkpoint:staged")
    sums = {file: sha256_file(final / file) for file in (TENSORS, STATE)}
    atomic_write_text(
        directory / POINTER, json.dumps({"checkpoint": name, "sha256": sums}, indent=1) + "\n"
    )
    crash_point("checkpoint:pointed")
    for entry in directory.iterdir():
        if entry.is_dir() and entry.name.startswith("step-") and entry.name != name:
            shutil.rmtree(entry, ignore_errors=True)


def _split_tensors(value: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    """`value` (an optimizer's state dict) as JSON, its tensors moved into `tensors` under
    dotted keys and replaced by `{"tensor": key}`; dicts with int keys (torch's optimizers key
    parameters by number) are marked so they come back with int keys."""
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().cpu().clone()
        return {"tensor": key}
    if isinstance(value, Mapping):
        items = {str(k): _split_tensors(v, f"{key}.{k}", tensors) for k, v in value.items()}
        if value and all(isinstance(k, int) for k in value):
            return {"int_keys": items}
        return {"dict": items}
    if isinstance(value, list | tuple):
        return [_split_tensors(v, f"{key}.{i}", tensors) for i, v in enumerate(value)]
    return value


def _join_tensors(value: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """The inverse of `_split_tensors`."""
    if isinstance(value, dict):
        if "tensor" in value:
            return tensors[value["tensor"]]
        if "int_keys" in value:
            return {int(k): _join_tensors(v, tensors) for k, v in value["int_keys"].items()}
        return {k: _join_tensors(v, tensors) for k, v in value["dict"].items()}
    if isinstance(value, list):
        return [_join_tensors(v, tensors) for v in value]
    return value


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], name: str) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointError(
            f"the checkpoint's {name} model does not fit this one: {error}"
        ) from None
