"""Text files by name from a folder or a zip (the GroupLens zip, the RecBole wheel), decoded.

Every error names the file (for a zip: `archive.zip:member`) and, where it helps, the line, says
what was found and what was expected: `file_error` writes that one sentence for every parser.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from reelrank.errors import DataError

# The most one file may hold once unpacked. MovieLens 100k's largest file is 2 MB; this bound
# keeps a zip bomb (a small archive that unpacks to gigabytes) from being swallowed: it is read
# in blocks and refused as soon as it passes the bound.
MAX_FILE_BYTES = 256 * 1024 * 1024
BLOCK = 1 << 20


def file_error(file: str, line: int | None, problem: str, expected: str) -> DataError:
    """`DataError("<file>, line <line>: <problem>; expected <expected>.")`; no line if None."""
    where = f"{file}, line {line}" if line is not None else file
    return DataError(f"{where}: {problem}; expected {expected}.")


class Archive:
    """Files by name from a folder, or from a zip where they are looked up under `prefixes`.

    `expected` describes the right input in the user's terms ("the GroupLens folder ... or
    ml-100k.zip") and ends every "file is missing or unreadable" message. Use it as a context
    manager, so an open zip is closed.
    """

    def __init__(self, path: Path, prefixes: tuple[str, ...], expected: str) -> None:
        self.path = path
        self.prefixes = prefixes
        self.expected = expected
        self.zip: zipfile.ZipFile | None = None
        if path.is_dir():
            return
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise DataError(
                f"{path}: not a readable zip file ({e}); it may be truncated or corrupt. "
                f"Expected {expected}; download it again."
            ) from e

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.zip is not None:
            self.zip.close()

    def text(self, name: str, encoding: str) -> tuple[str, str]:
        """(a display name for error messages, the decoded text) of the file `name`."""
        if self.zip is None:
            file = self.path / name
            try:
                if file.stat().st_size > MAX_FILE_BYTES:
                    raise too_large(str(file))
                raw = file.read_bytes()
            except OSError as e:
                raise DataError(
                    f"{file}: cannot read it ({e.strerror or e}); expected {self.expected}."
                ) from e
            return decode(raw, str(file), encoding)
        members = set(self.zip.namelist())
        member = next((p + name for p in self.prefixes if p + name in members), None)
        if member is None:
            raise DataError(
                f"{self.path}: has no {self.prefixes[0]}{name}; expected {self.expected}."
            )
        display = f"{self.path}:{member}"
        if self.zip.getinfo(member).file_size > MAX_FILE_BYTES:
            raise too_large(display)
        try:
            raw = self._read_bounded(member, display)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise DataError(
                f"{display}: cannot be unpacked ({e}); the zip is corrupt or truncated. "
                "Download it again."
            ) from e
        return decode(raw, display, encoding)

    def _read_bounded(self, member: str, display: str) -> bytes:
        """A member's bytes, unpacked in blocks: the size a zip declares can be a lie."""
        assert self.zip is not None
        blocks, size = [], 0
        with self.zip.open(member) as stream:
            while block := stream.read(BLOCK):
                size += len(block)
                if size > MAX_FILE_BYTES:
                    raise too_large(display)
                blocks.append(block)
        return b"".join(blocks)


def too_large(file: str) -> DataError:
    return DataError(
        f"{file}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB unpacked, refused (a damaged "
        "or malicious archive?); expected MovieLens files of a few MB."
    )


def decode(raw: bytes, file: str, encoding: str) -> tuple[str, str]:
    """`(file, text)`; bytes that are not valid `encoding` are reported with their line."""
    try:
        return file, raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        problem = f"byte {raw[e.start]:#04x} is not valid {encoding}"
        raise file_error(file, line, problem, f"{encoding} text") from e


def split_lines(text: str) -> list[str]:
    """The records of a text file: `\\n` or `\\r\\n` ends a line; final newlines end the last."""
    # Not str.splitlines: it also splits at \x85 and \x1c-\x1e, which Latin-1 text may hold.
    text = text.replace("\r\n", "\n").rstrip("\n")
    return text.split("\n") if text else []
