"""Files written crash-safe, checked by digest, and the one hook tests crash writers with.

Every write goes to a temporary name in the destination's own directory, is flushed to disk
(fsync) and is then renamed with `os.replace`, which is atomic on one file system: a reader sees
the old file or the new one, never a partial one. A writer killed mid-way leaves a hidden
temporary named after its process id (`.NAME.tmp-PID-…`); the next write to that name sweeps
those of processes that are gone. The data cache, the artifacts, the checkpoints and the batch
lists all write this way. Standard library only (layer 1).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# A test sets this to stop a writer at a named step (`crash_point`), as a crash or `kill -9`
# would (tests/artifacts/test_crash_safety.py, tests/training/test_checkpoints.py); it does nothing
# otherwise.
FAULT_HOOK: Callable[[str], None] | None = None


def crash_point(step: str) -> None:
    """Where a writer may be stopped by a test: `step` names the writer and how far it got
    ("artifact:staged", "checkpoint:pointed", ...)."""
    if FAULT_HOOK is not None:
        FAULT_HOOK(step)


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a fresh temporary path beside `path`; on success flush it to disk and rename it onto
    `path`.

    The body may write a file or create a directory at the yielded path. If the body raises, the
    temporary file or directory is removed and `path` is left as it was. (`os.replace` cannot put
    a directory over an existing non-empty directory: remove or rename that first.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path)
    tmp = temporary_name(path, "tmp")
    try:
        yield tmp
        fsync_tree(tmp)
        os.replace(tmp, path)
        fsync_path(path.parent)  # the rename itself survives a power cut
    except BaseException:
        remove_path(tmp)
        raise


def temporary_name(path: Path, kind: str) -> Path:
    """An unused hidden name beside `path` that says which process made it and what it is for:
    `.NAME.KIND-PID-RANDOM`."""
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}")


def sweep_stale(path: Path, kinds: tuple[str, ...] = ("tmp",)) -> list[Path]:
    """Remove the hidden temporaries beside `path` (see `temporary_name`) whose process is gone:
    what a killed writer left. Returns what was removed."""
    removed = []
    for leftover in stale_temporaries(path, kinds):
        remove_path(leftover)
        removed.append(leftover)
    return removed


def stale_temporaries(path: Path, kinds: tuple[str, ...]) -> list[Path]:
    """The temporaries beside `path` of the given kinds whose writing process is gone, newest
    first."""
    if not path.parent.is_dir():
        return []
    found = []
    for entry in path.parent.iterdir():
        for kind in kinds:
            prefix = f".{path.name}.{kind}-"
            if entry.name.startswith(prefix):
                pid = entry.name[len(prefix) :].split("-", 1)[0]
                if pid.isdigit() and not _alive(int(pid)):
                    found.append(entry)
    return sorted(found, key=lambda p: p.lstat().st_mtime, reverse=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def fsync_path(path: Path) -> None:
    """Flush a file's or a directory's entry to disk (where the system allows it)."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return  # e.g. directories cannot be opened on some systems: nothing more to do
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """`fsync_path` on a file, or on a directory's files and the directory itself."""
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            fsync_tree(child)
    if path.exists():
        fsync_path(path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (creating parent directories)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically (creating parent directories)."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def temporary_dir(parent: Path) -> Iterator[Path]:
    """A scratch directory inside `parent` (so a later `os.replace` stays on one file system)."""
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tmp-", dir=parent) as name:
        yield Path(name)


def remove_path(path: Path) -> None:
    """Remove a file or directory tree if it exists; ignore it if it does not."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
