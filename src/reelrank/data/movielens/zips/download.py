"""Downloading a GroupLens MovieLens zip into the cache, checked before it is trusted.

A zip with a pinned sha256 goes through `sources.GroupLensZip` (the ml-100k chain). For one
without (ml-10m, ml-32m), the `.md5` GroupLens publishes beside the zip is fetched first, the zip
is downloaded to a temporary name, checked against it and only then renamed into place; the
verified md5 is kept beside the zip (`ml-10m.zip.md5`), so later uses check the cached zip
without the network.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reelrank.data.fetch.cache import CACHE_DIR_ENV
from reelrank.data.fetch.sources import (
    DOWNLOAD_TIMEOUT_S,
    Downloader,
    GroupLensZip,
    _network_reason,
    urllib_download,
)
from reelrank.errors import DataError
from reelrank.files import atomic_path, atomic_write_text

if TYPE_CHECKING:
    from reelrank.data.movielens.zips.datasets import DatasetSpec

Notify = Callable[[str], None]


def notify_stderr(message: str) -> None:
    """The default `notify`: a line on stderr."""
    print(message, file=sys.stderr)


def fetch_grouplens_dataset(
    spec: DatasetSpec,
    cache_dir: Path,
    *,
    download: Downloader = urllib_download,
    notify: Notify = notify_stderr,
    timeout_s: float = DOWNLOAD_TIMEOUT_S,
) -> Path:
    """The verified zip of `spec` in `cache_dir`, downloaded (and verified) first if needed.

    A zip that fails its check is removed; a download that fails is a `DataError` saying why and
    how to supply the zip by hand.
    """
    if spec.sha256 is not None:
        source = GroupLensZip(
            url=spec.url,
            sha256=spec.sha256,
            filename=spec.zip_name,
            timeout_s=timeout_s,
            download=download,
        )
        found = source.cached(cache_dir)
        if found is not None:
            return found.path
        notify(f"reelrank: downloading {spec.title} from {spec.url} ...")
        try:
            return source.fetch(cache_dir).path
        except DataError as e:
            raise _could_not_get(spec, cache_dir, e) from e
    path = cache_dir / spec.zip_name
    if _md5_cached(path):
        return path
    notify(f"reelrank: downloading {spec.title} from {spec.url} ...")
    try:
        _fetch_md5_checked(spec, path, download, timeout_s)
    except DataError as e:
        raise _could_not_get(spec, cache_dir, e) from e
    return path


def _could_not_get(spec: DatasetSpec, cache_dir: Path, error: DataError) -> DataError:
    reason = " ".join(str(error).split())
    return DataError(
        f"Could not get {spec.title} from {spec.url}: {reason}. To supply it by hand, download "
        f"{spec.zip_name} from {spec.page} (on any machine with internet access) and pass it, or "
        f"its unzipped {spec.folder} folder, with --data PATH; or put {spec.zip_name} into the "
        f"cache directory {cache_dir} (choose another with --cache-dir or the {CACHE_DIR_ENV} "
        "environment variable)."
    )


_MD5_TAGGED = re.compile(r"MD5 ?\((?P<name>[^)]+)\) ?= ?(?P<digest>[0-9a-fA-F]{32})")
_MD5_PLAIN = re.compile(r"(?P<digest>[0-9a-fA-F]{32})(?:\s+\*?(?P<name>\S.*))?")


def parse_md5(text: str, zip_name: str, source: str) -> str:
    """The lowercase hex md5 in a checksum file's text: `MD5 (ml-10m.zip) = <hex>` (BSD) or
    `<hex>  ml-10m.zip` (GNU; the name may be absent). A file naming another zip is refused."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    match = _MD5_TAGGED.fullmatch(first) or _MD5_PLAIN.fullmatch(first)
    if match is None:
        raise DataError(
            f"{source}: {first[:80]!r} is not an md5 checksum line; expected "
            f"'MD5 ({zip_name}) = <32 hex digits>' or '<32 hex digits>  {zip_name}'"
        )
    named = match.group("name")
    if named is not None and Path(named.strip()).name != zip_name:
        raise DataError(f"{source}: the md5 is for {named.strip()!r}; expected one for {zip_name}")
    return match.group("digest").lower()


def md5_file(path: Path) -> str:
    """The hex md5 of a file's bytes (a checksum against damage, not a security check)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


def _md5_beside(path: Path) -> Path:
    return path.with_name(path.name + ".md5")


def _md5_cached(path: Path) -> bool:
    """Whether `path` is a zip matching the verified md5 kept beside it; a mismatch is removed."""
    beside = _md5_beside(path)
    if not (path.is_file() and beside.is_file()):
        return False
    try:
        expected = parse_md5(beside.read_text("utf-8", "replace"), path.name, str(beside))
    except DataError:
        beside.unlink(missing_ok=True)
        return False
    if md5_file(path) == expected:
        return True
    path.unlink(missing_ok=True)  # never keep a cached zip that fails its check
    return False


def _fetch_md5_checked(
    spec: DatasetSpec, path: Path, download: Downloader, timeout_s: float
) -> None:
    """Fetch the `.md5` GroupLens publishes, then the zip unless one in the cache matches it;
    the zip is checked before it is renamed into place, then the md5 is kept beside it."""
    assert spec.md5_url is not None
    try:
        buffer = io.BytesIO()
        download(spec.md5_url, buffer, timeout_s)
        text = buffer.getvalue()[:4096].decode("utf-8", "replace")
        expected = parse_md5(text, spec.zip_name, spec.md5_url)
        if not (path.is_file() and md5_file(path) == expected):  # a zip put there by hand
            with atomic_path(path) as tmp:
                with tmp.open("wb") as f:
                    download(spec.url, f, timeout_s)
                digest = md5_file(tmp)
                if digest != expected:
                    raise DataError(
                        f"the download of {spec.url} ({tmp.stat().st_size:,} bytes) has md5 "
                        f"{digest}, expected {expected} (from {spec.md5_url}): a truncated or "
                        "altered download, so it was discarded"
                    )
        atomic_write_text(_md5_beside(path), f"MD5 ({spec.zip_name}) = {expected}\n")
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise DataError(_network_reason(e)) from e
