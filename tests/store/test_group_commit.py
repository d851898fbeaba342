"""Group commit: writers arriving during a commit share the next one; each is answered only once
its rows are committed, and a failed commit fails every writer in it."""

from __future__ import annotations

import threading
import time

import pytest

from reelrank.store.group_commit import GroupCommit


def test_concurrent_writers_share_commits_and_each_row_is_committed_once() -> None:
    batches: list[list[int]] = []

    def commit(rows: list[int]) -> None:
        time.sleep(0.02)  # a slow fsync: others arrive meanwhile
        batches.append(rows)

    group: GroupCommit[int] = GroupCommit(commit)
    answered: list[int] = []

    def writer(n: int) -> None:
        group.submit([n])
        assert any(n in batch for batch in batches)  # committed before the answer
        answered.append(n)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answered) == list(range(40))
    assert sorted(row for batch in batches for row in batch) == list(range(40))
    assert len(batches) < 40  # commits were shared


def test_a_failed_commit_fails_every_writer_in_it_and_the_next_one_goes_on() -> None:
    calls = [0]

    def commit(rows: list[int]) -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise OSError("disk full")

    group: GroupCommit[int] = GroupCommit(commit)
    with pytest.raises(OSError, match="disk full"):
        group.submit([1])
    group.submit([2])  # the group is not stuck
    assert calls[0] == 2


def test_writers_in_an_event_loop_share_commits_and_hear_failures() -> None:
    """`submit_async` waits without a thread of its own: many writers of one loop share commits,
    each answered only once its rows are committed, and a failed commit fails each of them."""
    import asyncio

    batches: list[list[int]] = []
    fail = [False]

    def commit(rows: list[int]) -> None:
        time.sleep(0.02)
        if fail[0]:
            raise OSError("disk full")
        batches.append(rows)

    group: GroupCommit[int] = GroupCommit(commit)

    async def writer(n: int) -> int:
        await group.submit_async([n])
        assert any(n in batch for batch in batches)  # committed before the answer
        return n

    async def main() -> list[int]:
        return list(await asyncio.gather(*(writer(n) for n in range(40))))

    assert sorted(asyncio.run(main())) == list(range(40))
    assert len(batches) < 40
    fail[0] = True
    with pytest.raises(OSError, match="disk full"):
        asyncio.run(group.submit_async([99]))
    fail[0] = False
    asyncio.run(group.submit_async([100]))  # not stuck
    assert batches[-1] == [100]
