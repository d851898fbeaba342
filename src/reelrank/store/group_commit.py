"""Group commit: the writers of one process that arrive while a commit is in progress share the
next one, so a burst of N writes costs one durable commit (one fsync) instead of N.

Each writer hands in its rows and waits. When no commit is running, the first waiting writer
commits every row handed in so far in one transaction, then wakes the others: each is answered
once the transaction holding its rows has committed, with that transaction's error if it failed
(then none of its rows is stored, and none is acknowledged). A writer commits at most the batch
it is in, so no one waits behind a stream of others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Ticket(Generic[T]):
    rows: Sequence[T]
    done: bool = False
    error: BaseException | None = None
    batch: list[_Ticket[T]] = field(default_factory=list)


class GroupCommit(Generic[T]):
    """`submit(rows)` returns once `commit` has stored `rows` (with any others waiting)."""

    def __init__(self, commit: Callable[[list[T]], None]) -> None:
        self._commit = commit
        self._changed = threading.Condition()
        self._waiting: list[_Ticket[T]] = []
        self._committing = False

    def submit(self, rows: Sequence[T]) -> None:
        ticket: _Ticket[T] = _Ticket(rows)
        with self._changed:
            self._waiting.append(ticket)
            while not ticket.done and self._committing:
                self._changed.wait()
            if ticket.done:
                return self._answer(ticket)
            self._committing = True  # this writer commits what is waiting, its own rows first in
            batch, self._waiting = self._waiting, []
        error: BaseException | None = None
        try:
            self._commit([row for waiting in batch for row in waiting.rows])
        except BaseException as failure:  # handed to every writer of the batch
            error = failure
        with self._changed:
            for waiting in batch:
                waiting.done, waiting.error = True, error
            self._committing = False
            self._changed.notify_all()
        return self._answer(ticket)

    @staticmethod
    def _answer(ticket: _Ticket[T]) -> None:
        if ticket.error is not None:
            raise ticket.error
