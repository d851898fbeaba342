"""Where reelrank keeps downloaded data, and how it writes there without leaving half-written files.

Every write goes to a temporary name in the destination's own directory and is then renamed with
`os.replace`, which is atomic on one file system: a reader sees the old file or the new one, never
a partial one, and an interrupted write leaves at most a hidden `*.tmp` file behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE_DIR_ENV = "REELRANK_CACHE_DIR"


def default_cache_dir() -> Path:
    """`$REELRANK_CACHE_DIR`, else `$XDG_CACHE_HOME/reelrank`, else `~/.cache/reelrank`."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "reelrank"
    return Path.home() / ".cache" / "reelrank"


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """An explicit `cache_dir` (the CLI's `--cache-dir`) if given, else `default_cache_dir()`."""
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a fresh temporary path beside `path`; on success rename it onto `path`.

    The body may write a file or create a directory at the yielded path. If the body raises, the
    temporary file or directory is removed and `path` is left as it was. (`os.replace` cannot put
    a directory over an existing non-empty directory: remove or rename that first.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    # Only the unique name is wanted: the body creates a file (with normal, not 0600, permissions)
    # or a directory there.
    tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        remove_path(tmp)
        raise


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
