"""Where reelrank keeps downloaded data: `$REELRANK_CACHE_DIR`, the XDG cache, or `~/.cache`.

What is written there is written crash-safe (`reelrank.files`).
"""

from __future__ import annotations

import os
from pathlib import Path

from reelrank.errors import DataError

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
    """An explicit `cache_dir` (the CLI's `--cache-dir`) if given, else `default_cache_dir()`;
    a path that exists and is not a directory (nor a link to one) is a `DataError` saying so,
    before anything is downloaded into it."""
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if cache.exists() and not cache.is_dir():
        raise DataError(
            f"the cache directory {cache} is a file, not a directory; remove it, or choose "
            f"another with --cache-dir or {CACHE_DIR_ENV}"
        )
    return cache
