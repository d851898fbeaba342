"""What the command line prints: tables, JSON, progress bars and error lines.

Output to a terminal fits the terminal; output piped to a file or a program is never wrapped at
rich's 80-column default, so each movie stays on one line.
"""

from __future__ import annotations

import json
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from reelrank.errors import ReelrankError
from reelrank.recommender.lists import Recommendation
from reelrank.training.loop import Progress as TrainProgress

# sysexits' EX_SOFTWARE: the program, not its input, is at fault.
BUG_EXIT_CODE = 70
# Wide enough that no table row wraps when the output is not a terminal.
PIPED_WIDTH = 10_000


def console(stream: TextIO | None = None) -> Console:
    """A rich console on `stream` (default stdout), full width when it is not a terminal."""
    stream = stream or sys.stdout
    width = None if stream.isatty() else PIPED_WIDTH
    return Console(file=stream, width=width, highlight=False, soft_wrap=width is not None)


def stderr() -> Console:
    return console(sys.stderr)


def say(message: str) -> None:
    """One line of information on stderr (notices, progress), never wrapped."""
    stderr().print(message, soft_wrap=True)


def fail(message: str) -> NoReturn:
    # Escaped: a message may hold brackets that are not markup, e.g. pip's 'reelrank[plots]'.
    stderr().print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code=1)


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors reelrank raises on purpose (bad input, missing data, a corrupt artifact) become one
    line on stderr and exit status 1. Anything else is a bug: its traceback goes to a file, and the
    line says so, with exit status 70."""
    try:
        yield
    except ReelrankError as error:
        fail(str(error))
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as error:
        with tempfile.NamedTemporaryFile(
            "w", prefix="reelrank-crash-", suffix=".log", delete=False, encoding="utf-8"
        ) as log:
            traceback.print_exc(file=log)
        stderr().print(
            f"[bold red]error:[/] unexpected {type(error).__name__}: {escape(str(error))}. "
            "This is a bug in reelrank, not a problem with your input; the full traceback is "
            f"in {log.name}. Please report it with that file.",
            soft_wrap=True,
        )
        raise typer.Exit(code=BUG_EXIT_CODE) from None


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def format_value(value: Any) -> str:
    """A metric as a person reads it: counts with separators, fractions to 4 decimals."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4f}"


# The list figures shown in the table of `print_metrics`, by column title; `--json` has them all.
LIST_COLUMNS = (
    ("R@10", "recall@10"),
    ("NDCG@10", "ndcg@10"),
    ("HR@10", "hit_rate@10"),
    ("R@100", "recall@100"),
    ("R@10 (4+)", "4+/recall@10"),
    ("NDCG@10 (4+)", "4+/ndcg@10"),
    ("coverage@10", "coverage@10"),
    ("popularity pct@10", "popularity_percentile@10"),
    ("lists", "users"),
)
# What each row of the list table measures.
LIST_ROWS = {
    "retrieval": "retrieval stage alone",
    "known_user": "served: known user",
    "liked": "served: liked movies",
    "similar": "served: similar movies",
}


def print_metrics(metrics: dict[str, Any], *, title: str | None = None) -> None:
    """An evaluation as tables: one figure per row, then the lists' figures with one row per path
    (retrieval alone, and each list people are served); `--json` keeps every figure and digit."""
    rows = [p for p in LIST_ROWS if any(k.startswith(f"{p}/") for k in metrics)]
    plain = Table(title=title, title_justify="left")
    plain.add_column("metric")
    plain.add_column("value", justify="right")
    for name, value in metrics.items():
        if name.partition("/")[0] not in rows:
            plain.add_row(name, format_value(value))
    console().print(plain)
    if not rows:
        return
    lists = Table(
        title="Lists (4+: only held-out ratings of 4 or 5 count as relevant)", title_justify="left"
    )
    lists.add_column("list")
    for header, _ in LIST_COLUMNS:
        lists.add_column(header, justify="right")
    for row in rows:
        cells = [metrics.get(f"{row}/{key}") for _, key in LIST_COLUMNS]
        lists.add_row(LIST_ROWS[row], *("" if c is None else format_value(c) for c in cells))
    console().print(lists)


def print_recommendations(
    title: str, recs: Sequence[Recommendation], *, first: int = 1, scores: bool = False
) -> None:
    """A table of movies numbered from `first`, with the numbers they carry, each column named for
    what it is, and the liked movie that brought each where there is one. The retrieval score, an
    internal number, only with `scores`."""
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("movie_id", justify="right")
    table.add_column("movie_title")
    table.add_column("genres")
    with_rating = any(r.predicted_rating is not None for r in recs)
    with_because = any(r.because_title is not None for r in recs)
    with_retrieval = scores and any(r.retrieval_score is not None for r in recs)
    if with_rating:
        table.add_column("predicted rating (1-5)", justify="right")
    if with_because:
        table.add_column("because you liked")
    if with_retrieval:
        table.add_column("retrieval score", justify="right")
    for i, r in enumerate(recs, start=first):
        row = [str(i), r.movie_id, r.movie_title, ", ".join(g for g in r.genres if g != "unknown")]
        if with_rating:
            row.append(_number(r.predicted_rating))
        if with_because:
            row.append(r.because_title or "")
        if with_retrieval:
            row.append(_number(r.retrieval_score))
        table.add_row(*row)
    console().print(table)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[TrainProgress], None] | None]:
    """A rich progress bar on stderr showing epoch, loss and RMSE (and the validation RMSE
    once an epoch ends, where one is watched); None when disabled."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description} epoch {task.fields[epoch]}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TextColumn("loss {task.fields[loss]:.4f}{task.fields[rmse]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr(), transient=False) as bar:
        tasks: dict[tuple[str, int], Any] = {}

        def update(p: TrainProgress) -> None:
            key = (p.task, p.epoch)  # a preset may train a rating model, then retrieval
            if key not in tasks:
                tasks[key] = bar.add_task(
                    p.task, total=p.steps, epoch=f"{p.epoch}/{p.epochs}", loss=0.0, rmse=""
                )
            rmse = "" if p.rmse is None else f"  rmse {p.rmse:.4f}"
            if p.validation_rmse is not None:  # the epoch's end, on the held-out rows
                rmse += f"  validation rmse {p.validation_rmse:.4f}"
            bar.update(tasks[key], completed=p.step, loss=p.loss, rmse=rmse)

        yield update


@contextmanager
def count_bar(enabled: bool, what: str) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr counting `what` done of a total; None when disabled."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn(what),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr(), transient=False) as bar:
        tasks: list[Any] = []

        def update(done: int, total: int) -> None:
            if not tasks:
                tasks.append(bar.add_task(what, total=total))
            bar.update(tasks[0], completed=done, total=total)

        yield update
