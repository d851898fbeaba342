"""A writer killed at any instant (SIGKILL, in a child process) leaves either the old or the new
complete artifact at its path, never neither, and its temporaries are swept on the next run.

The writer stops through `reelrank.files.FAULT_HOOK` at each named step of a save; the data cache's
writes are killed inside their body.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from reelrank.artifacts.directory import JSON_FILES, ArtifactContents, load_artifact, save_artifact
from reelrank.errors import ArtifactError
from reelrank.files import atomic_write_bytes

WRITER = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    from reelrank import files
    from reelrank.artifacts.directory import ArtifactContents, JSON_FILES, save_artifact

    target, version, step = sys.argv[1], sys.argv[2], sys.argv[3]

    def crash(name):
        if name == f"artifact:{step}":
            os.kill(os.getpid(), signal.SIGKILL)

    files.FAULT_HOOK = crash
    contents = ArtifactContents(
        {"version": version},
        {"w": torch.full((4,), float(len(version)))},
        {name: {"version": version} for name in JSON_FILES},
        {"version": version},
    )
    save_artifact(target, contents)
    """
)


def _contents(version: str) -> ArtifactContents:
    return ArtifactContents(
        {"version": version},
        {"w": torch.full((4,), float(len(version)))},
        {name: {"version": version} for name in JSON_FILES},
        {"version": version},
    )


def _write_killed(target: Path, version: str, step: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", WRITER, str(target), version, step], capture_output=True
    )
    return result.returncode


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("step", ["writing", "staged", "moved-aside", "swapped", "never"])
def test_a_writer_killed_at_any_step_leaves_old_or_new_complete(tmp_path: Path, step: str) -> None:
    target = tmp_path / "model"
    save_artifact(target, _contents("old"))
    code = _write_killed(target, "new", step)
    assert code == (0 if step == "never" else -9)
    # The next reader finds a complete artifact: the old one until the new one was complete and
    # the old one moved aside, the new one after.
    expected = "old" if step in ("writing", "staged") else "new"
    assert load_artifact(target).metrics["version"] == expected
    assert _hidden(tmp_path) == []  # the killed writer's temporaries are gone
    save_artifact(target, _contents("newer"))  # and the place is usable as ever
    assert load_artifact(target).metrics["version"] == "newer"
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("step", ["writing", "staged"])
def test_a_first_save_killed_leaves_nothing_or_the_complete_new_one(
    tmp_path: Path, step: str
) -> None:
    target = tmp_path / "model"
    assert _write_killed(target, "new", step) == -9
    if step == "writing":  # incomplete: there never was an artifact, and there is none
        with pytest.raises(ArtifactError, match="no artifact at"):
            load_artifact(target)
    else:  # complete, only the rename was missed: it is finished
        assert load_artifact(target).metrics["version"] == "new"
    assert _hidden(tmp_path) == []


def test_a_cache_write_killed_mid_way_is_swept_by_the_next(tmp_path: Path) -> None:
    """`kill -9` during a cache write once left a hidden `*.tmp` for ever."""
    target = tmp_path / "ratings.parquet"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from reelrank.files import atomic_path
        with atomic_path(Path({str(target)!r})) as tmp:
            tmp.write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    assert subprocess.run([sys.executable, "-c", script]).returncode == -9
    assert len(_hidden(tmp_path)) == 1 and not target.exists()
    atomic_write_bytes(target, b"whole")
    assert target.read_bytes() == b"whole"
    assert _hidden(tmp_path) == []
