"""Reading files out of folders and zips: a zip bomb is refused, not swallowed."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from reelrank.data.fetch import archive
from reelrank.data.fetch.archive import Archive
from reelrank.errors import DataError


def _bomb(path: Path, size: int) -> Path:
    """A small zip whose one member unpacks to `size` bytes of zeros."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("ml-100k/u.data", b"\0" * size)
    return path


def test_a_zip_that_unpacks_past_the_bound_is_refused(tmp_path: Path) -> None:
    """A 1 MB zip unpacking to a 500 MB u.data was once read whole, then OOM-killed at 24 GB;
    here the bound is the library's own, and the archive 256 MiB of zeros in about 250 KB."""
    bomb = _bomb(tmp_path / "bomb.zip", archive.MAX_FILE_BYTES + 1)
    assert bomb.stat().st_size < 2_000_000
    with (
        Archive(bomb, ("ml-100k/",), "ml-100k.zip") as files,
        pytest.raises(DataError, match=r"bomb\.zip:ml-100k/u\.data: larger than 256 MiB unpacked"),
    ):
        files.text("u.data", "latin-1")


def test_a_zip_that_lies_about_its_size_is_refused_unread_past_its_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = _bomb(tmp_path / "bomb.zip", 5_000)
    monkeypatch.setattr(archive, "MAX_FILE_BYTES", 4_000)
    with Archive(bomb, ("ml-100k/",), "ml-100k.zip") as files:
        # The declared size would be refused before unpacking; hide it, as a forged header would:
        # unpacking stops at the claim, and the check of what was read refuses it.
        assert files.zip is not None
        files.zip.getinfo("ml-100k/u.data").file_size = 10
        with pytest.raises(DataError, match=r"cannot be unpacked .*Bad CRC"):
            files.text("u.data", "latin-1")


def test_a_folder_file_past_the_bound_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "u.data").write_bytes(b"1\t2\t3\t4\n" * 1000)
    monkeypatch.setattr(archive, "MAX_FILE_BYTES", 100)
    with pytest.raises(DataError, match=r"u\.data: larger than"):
        Archive(tmp_path, ("",), "a folder").text("u.data", "latin-1")
