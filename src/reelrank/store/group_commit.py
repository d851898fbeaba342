"""Group commit: the writers of one process that arrive while a commit is in progress share the
next one, so a burst of N writes costs one durable commit (one fsync) instead of N.

Each writer hands in its rows and waits, on a thread (`submit`) or in an event loop
(`submit_async`, which holds no thread while it waits). One committer thread at a time commits
every row handed in so far in one transaction, then answers each writer of that batch: once the
transaction holding its rows has committed, or with that transaction's error if it failed (then
none of its rows is stored, and none is acknowledged). It then takes the rows that arrived
meanwhile, and ends when none are left; a batch holds only rows handed in before it began, so
no one waits behind a stream of others.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """`submit(rows)` returns once `commit` has stored `rows` (with any others waiting)."""

    def __init__(self, commit: Callable[[list[T]], None]) -> None:
        self._commit = commit
        self._lock = threading.Lock()
        self._waiting: list[tuple[Sequence[T], Future[None]]] = []
        self._committing = False

    def submit(self, rows: Sequence[T]) -> None:
        """Wait, on this thread, until `rows` are committed; raise the commit's error if not."""
        self._hand_in(rows).result()

    async def submit_async(self, rows: Sequence[T]) -> None:
        """`submit` for an event loop: it serves other requests while the commit runs."""
        await asyncio.wrap_future(self._hand_in(rows))

    def _hand_in(self, rows: Sequence[T]) -> Future[None]:
        answer: Future[None] = Future()
        with self._lock:
            self._waiting.append((rows, answer))
            start, self._committing = not self._committing, True
        if start:
            threading.Thread(target=self._commit_all, name="reelrank-commit", daemon=True).start()
        return answer

    def _commit_all(self) -> None:
        while True:
            with self._lock:
                batch, self._waiting = self._waiting, []
                if not batch:
                    self._committing = False
                    return
            try:
                self._commit([row for rows, _ in batch for row in rows])
            except BaseException as failure:  # handed to every writer of the batch
                for _, answer in batch:
                    answer.set_exception(failure)
            else:
                for _, answer in batch:
                    answer.set_result(None)
