"""`recommend --all-users`: every user's list as Parquet, in one process or shared by torchrun's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from reelrank.cli import app
from reelrank.errors import ReelrankError
from reelrank.recommender.batch import MANIFEST, write_all_users
from reelrank.recommender.recommender import Recommender
from reelrank.runtime.distributed import World

runner = CliRunner()


def assert_same_lists(a: Path, b: Path) -> None:
    """The same rows; the numbers equal up to float rounding (the MLP multiplies a chunk of
    users at once, and another chunk size may round differently)."""
    got, want = pq.read_table(a).to_pydict(), pq.read_table(b).to_pydict()
    for column in ("user_id", "rank", "movie_id", "movie_title"):
        assert got[column] == want[column], column
    for column in ("score", "predicted_rating"):
        assert got[column] == pytest.approx(want[column], abs=1e-5), column


@pytest.fixture(scope="module")
def loaded(artifact: Path) -> Recommender:
    return Recommender.load(artifact)


def test_every_user_gets_the_list_recommend_serves(loaded: Recommender, tmp_path: Path) -> None:
    summary = write_all_users(loaded, tmp_path / "recs.parquet", k=5, chunk_users=7)
    table = pq.read_table(tmp_path / "recs.parquet")
    assert table.column_names == [
        "user_id",
        "rank",
        "movie_id",
        "movie_title",
        "score",
        "predicted_rating",
    ]
    n_users = loaded.catalog.users.size - 1
    assert (summary.users, summary.rows, summary.parts) == (n_users, table.num_rows, 1)
    assert table.num_rows == n_users * 5
    rows = table.to_pylist()
    for user_id in ("1", loaded.catalog.users.terms[-1]):
        mine = [r for r in rows if r["user_id"] == user_id]
        served = loaded.recommend(user_id, k=5)
        assert [r["rank"] for r in mine] == [1, 2, 3, 4, 5]
        assert [r["movie_id"] for r in mine] == [s.movie_id for s in served]
        assert [r["movie_title"] for r in mine] == [s.movie_title for s in served]
        assert [r["predicted_rating"] for r in mine] == pytest.approx(
            [s.predicted_rating for s in served], abs=1e-6
        )


def test_chunks_do_not_change_the_output(loaded: Recommender, tmp_path: Path) -> None:
    write_all_users(loaded, tmp_path / "a.parquet", k=4, chunk_users=1)
    write_all_users(loaded, tmp_path / "b.parquet", k=4, chunk_users=10_000)
    assert_same_lists(tmp_path / "a.parquet", tmp_path / "b.parquet")


def test_an_earlier_output_is_replaced_whole_or_kept(loaded: Recommender, tmp_path: Path) -> None:
    target = tmp_path / "recs.parquet"
    write_all_users(loaded, target, k=2)
    before = target.read_bytes()

    def crash(done: int, total: int) -> None:
        if done > 10:
            raise RuntimeError("the machine went away")

    with pytest.raises(RuntimeError):
        write_all_users(loaded, target, k=3, chunk_users=5, on_progress=crash)
    assert target.read_bytes() == before  # the old output is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recs.parquet"]  # nothing left over
    killed = tmp_path / ".recs.parquet.tmp-2147483646-0badcafe"  # a writer that is gone
    killed.mkdir()
    (killed / "recs.parquet").write_bytes(b"PAR1 half")
    write_all_users(loaded, target, k=3)
    assert pq.read_table(target).num_rows == (loaded.catalog.users.size - 1) * 3
    assert not killed.exists()


def test_other_files_and_folders_are_never_replaced(loaded: Recommender, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    with pytest.raises(ReelrankError, match="not a Parquet file"):
        write_all_users(loaded, notes, k=2)
    with pytest.raises(ReelrankError, match="not a Parquet file"):
        write_all_users(loaded, tmp_path, k=2)
    with pytest.raises(ReelrankError, match="does not exist"):
        write_all_users(loaded, tmp_path / "missing" / "recs.parquet", k=2)
    # Several processes write a folder; one that is not an earlier output is refused.
    with pytest.raises(ReelrankError, match=f"has no {MANIFEST}"):
        write_all_users(loaded, tmp_path, k=2, world=World(rank=0, size=2))
    assert notes.read_text() == "keep me"


def test_the_cli_checks_its_options(artifact: Path, tmp_path: Path) -> None:
    base = ["recommend", str(artifact)]
    for extra in (["--all-users"], ["--out", f"{tmp_path}/r.parquet"]):
        result = runner.invoke(app, [*base, *extra])
        assert result.exit_code == 1 and "--all-users writes every user's list" in result.stderr
    result = runner.invoke(app, [*base, "--all-users", "--out", f"{tmp_path}/r", "--user", "1"])
    assert result.exit_code == 1 and "no --user" in result.stderr
    result = runner.invoke(app, [*base, "--all-users", "--out", f"{tmp_path}/r.parquet", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == pq.read_table(f"{tmp_path}/r.parquet").num_rows


def test_shards_cover_every_user_once() -> None:
    for n in (0, 1, 7, 943):
        for size in (1, 2, 3, 8):
            covered = np.concatenate(
                [np.arange(n)[World(rank=r, size=size).shard(n)] for r in range(size)]
            )
            assert covered.tolist() == list(range(n))


def test_the_world_comes_from_torchruns_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert World.from_env() == World()
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert World.from_env() == World(rank=3, size=4, local_rank=1)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ReelrankError, match="does not lie in a WORLD_SIZE of 4"):
        World.from_env()
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ReelrankError, match="must be integers"):
        World.from_env()


TORCHRUN = Path(sys.executable).with_name("torchrun")  # installed with torch, beside python
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # what torchrun sets anyway, without its warning


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not beside this python")
def test_torchrun_processes_write_parts_that_add_up_to_one_process_output(
    artifact: Path, tmp_path: Path
) -> None:
    single = tmp_path / "single.parquet"
    write_all_users(Recommender.load(artifact), single, k=6)
    shared = tmp_path / "shared"
    command = [str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "-m", "reelrank"]
    command += ["recommend", str(artifact), "--all-users", "--out", str(shared), "-k", "6"]
    for _ in range(2):  # the second run replaces the first run's folder
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads((shared / MANIFEST).read_text())
    assert [p["file"] for p in manifest["parts"]] == ["part-00000.parquet", "part-00001.parquet"]
    assert sorted(p.name for p in shared.iterdir()) == [
        MANIFEST,
        *[p["file"] for p in manifest["parts"]],
    ]
    assert manifest["rows"] == sum(p["rows"] for p in manifest["parts"])
    assert_same_lists(shared, single)  # read as one data set: `_manifest.json` is skipped
