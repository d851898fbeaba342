"""`kill -9` of a real `reelrank serve` (its whole process group) in the middle of a write load
loses no write it acknowledged: every PUT answered 200 is in the store when it is opened again.
`benchmarks/store_faults.py` runs more of these, with 1 and 2 workers, and counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelrank.recommender.recommender import Recommender
from reelrank.testing.durability import kill_during_writes

RUNS = 2


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_9_during_writes_loses_no_acknowledged_write(
    run: int, two_stage_artifact: Path, two_stage: Recommender, tmp_path: Path
) -> None:
    movie = str(two_stage.catalog.table.movie_id[1])
    workers = 1 + run  # the second run serves with 2 workers writing one SQLite file
    result = kill_during_writes(
        two_stage_artifact, tmp_path, movie, after_s=1.0 + 0.5 * run, workers=workers
    )
    assert result.acknowledged > 20, "too few writes to tell anything"
    assert result.lost == 0, f"{result.lost} of {result.acknowledged} acknowledged writes lost"
    assert result.server_errors == 0  # never "database is locked"
