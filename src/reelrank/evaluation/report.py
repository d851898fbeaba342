"""Reports of evaluations: Markdown tables and plots (PNG) of the figures a recommender's
evaluation returns (`reelrank.evaluation.served`, the retrieval stage's `retrieval/...`), for one
model, or several side by side (`benchmarks/served_table.py`).

The plots:

- quality against k: Recall@k and NDCG@k for k in 10, 20, 50, 100 (every held-out movie
  relevant), one panel each. For one model, one line per path (known user, liked movies, similar
  movies, and the retrieval stage alone, which is scored at 10 and 100 only: a dotted line joins
  them); for several, one column of panels per path and one line per model.
- quality against how many liked movies someone names: Recall@10 and NDCG@10 of the liked path
  given the latest 1, 3, 10 or all of each user's liked movies (`liked@1/...`, `liked@3/...`,
  `liked@10/...`, `liked/...`), one line per model. Each point averages over its own users (those
  with at least that many liked movies); the tick labels say how many.

matplotlib (the `plots` extra) is imported when a plot is drawn, never at import time, with the
Agg backend: files only, no display needed.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reelrank.errors import ReelrankError

Metrics = Mapping[str, Any]

PATHS = {
    "known_user": "served: known user",
    "liked": "served: liked movies",
    "similar": "served: similar movies",
    "retrieval": "retrieval stage alone",
}
PLOT_KS = (10, 20, 50, 100)
# The liked path given the latest N liked movies: (tick label, key prefix).
LIKED_POINTS = (("1", "liked@1"), ("3", "liked@3"), ("10", "liked@10"), ("all", "liked"))
LIKED_METRICS = (("Recall@10", "recall@10"), ("NDCG@10", "ndcg@10"))
# The rows and columns of a one-model report's list table.
REPORT_ROWS = {
    "retrieval": "retrieval stage alone",
    "known_user": "served: known user",
    "liked": "served: liked movies (all given)",
    "liked@10": "served: liked movies (latest 10 given)",
    "liked@3": "served: liked movies (latest 3 given)",
    "liked@1": "served: liked movies (latest 1 given)",
    "similar": "served: similar movies",
}
REPORT_COLUMNS = (
    ("lists", "users"),
    ("R@10", "recall@10"),
    ("NDCG@10", "ndcg@10"),
    ("HR@10", "hit_rate@10"),
    ("R@20", "recall@20"),
    ("NDCG@20", "ndcg@20"),
    ("R@50", "recall@50"),
    ("R@100", "recall@100"),
    ("NDCG@100", "ndcg@100"),
    ("R@10 (4+)", "4+/recall@10"),
    ("NDCG@10 (4+)", "4+/ndcg@10"),
    ("coverage@10", "coverage@10"),
    ("popularity pct@10", "popularity_percentile@10"),
)
PLOTS_HINT = "pip install 'reelrank[plots]'"


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend; a `ReelrankError` naming the fix without it."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        raise ReelrankError(
            f"plots need matplotlib, which is not installed: {PLOTS_HINT}"
        ) from None
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def cell(value: Any) -> str:
    """A figure as a table shows it: counts with separators, fractions to 4 decimals, blank when
    missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.4f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; the first column left-aligned, the others right."""
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join([":---"] + ["---:"] * (len(header) - 1)) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def model_table(runs: Mapping[str, Metrics], columns: Sequence[tuple[str, str]]) -> str:
    """One row per labelled run, one column per `(header, key)`."""
    rows = [[label, *(cell(m.get(key)) for _, key in columns)] for label, m in runs.items()]
    return markdown_table(["model", *(header for header, _ in columns)], rows)


def report_markdown(metrics: Metrics, *, title: str, notes: Sequence[str] = ()) -> str:
    """One model's evaluation as Markdown: a table of the lists (one row per path, the liked path
    once per number of liked movies given) and one of every other figure."""
    paths = [p for p in REPORT_ROWS if any(k.startswith(f"{p}/") for k in metrics)]
    rows = [
        [REPORT_ROWS[p], *(cell(metrics.get(f"{p}/{key}")) for _, key in REPORT_COLUMNS)]
        for p in paths
    ]
    others = [[k, cell(v)] for k, v in metrics.items() if k.partition("/")[0] not in REPORT_ROWS]
    parts = [f"# {title}\n", *(f"{note}\n" for note in notes)]
    if rows:
        parts += [
            "## Lists\n",
            "R: recall, HR: hit rate, at k places; every held-out movie of a user is relevant, "
            "or with (4+) only those rated 4 or 5. coverage@10: share of the catalogue in anyone's "
            "top 10; popularity pct@10: mean popularity percentile of the movies shown (100: the "
            "most rated). The liked path is given each user's latest N training movies rated 4+, "
            "over the users with at least N.\n",
            markdown_table(["list", *(h for h, _ in REPORT_COLUMNS)], rows),
        ]
    if others:
        parts += ["## Other figures\n", markdown_table(["figure", "value"], others)]
    return "\n".join(parts)


def plot_paths_at_k(metrics: Metrics, out: Path, *, title: str) -> Path:
    """Recall@k and NDCG@k against k for one model, one line per path; written to `out` (PNG)."""
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    for axis, (label, name) in zip(axes, (("Recall", "recall"), ("NDCG", "ndcg")), strict=True):
        for path, path_label in PATHS.items():
            _line(axis, metrics, path, name, path_label)
        _k_axis(axis, f"{label}@k", label)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=max(len(labels), 1))
    figure.suptitle(title)
    return _save(plt, figure, out)


def plot_models_at_k(runs: Mapping[str, Metrics], out: Path, *, title: str) -> Path:
    """Recall@k (top row) and NDCG@k (bottom row) against k, one column per path and one line per
    model; written to `out` (PNG)."""
    plt = pyplot()
    paths = [p for p in PATHS if any(f"{p}/recall@10" in m for m in runs.values())]
    if not paths:
        raise ReelrankError("no list figures to plot: evaluate a model first")
    figure, axes = plt.subplots(
        2, len(paths), figsize=(3.6 * len(paths) + 2, 7), squeeze=False, constrained_layout=True
    )
    colors = _model_colors(runs)
    for column, path in enumerate(paths):
        for row, (label, name) in enumerate((("Recall", "recall"), ("NDCG", "ndcg"))):
            axis = axes[row][column]
            for model, metrics in runs.items():
                _line(axis, metrics, path, name, model, color=colors[model])
            _k_axis(axis, f"{PATHS[path]}: {label}@k" if row == 0 else f"{label}@k", label)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right center", fontsize="small", title="model")
    figure.suptitle(title)
    return _save(plt, figure, out)


def plot_liked_counts(runs: Mapping[str, Metrics], out: Path, *, title: str) -> Path:
    """Recall@10 and NDCG@10 of the liked path against how many liked movies it is given (1, 3,
    10, all), one line per model; written to `out` (PNG)."""
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    ticks = [_liked_tick(runs, label, prefix) for label, prefix in LIKED_POINTS]
    colors = _model_colors(runs)
    for axis, (label, name) in zip(axes, LIKED_METRICS, strict=True):
        for model, metrics in runs.items():
            values = [metrics.get(f"{prefix}/{name}") for _, prefix in LIKED_POINTS]
            if any(v is not None for v in values):
                axis.plot(
                    range(len(values)), _nan(values), marker="o", label=model, color=colors[model]
                )
        axis.set_xticks(range(len(ticks)), ticks)
        axis.set_xlabel("liked movies given (each user's latest)")
        axis.set_ylabel(label)
        axis.set_title(f"Liked movies: {label}")
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle(title)
    return _save(plt, figure, out)


def has_liked_counts(metrics: Metrics) -> bool:
    return any(f"{prefix}/recall@10" in metrics for _, prefix in LIKED_POINTS[:-1])


def write_report(
    metrics: Metrics, out_dir: Path, *, title: str, notes: Sequence[str] = ()
) -> list[Path]:
    """One model's evaluation into `out_dir`: `metrics.json`, `report.md`, `quality_at_k.png`
    and, when the liked-count figures are there, `liked_counts.png`. Returns the paths written."""
    out_dir = writable_dir(out_dir)
    pyplot()  # before writing anything: no half report without matplotlib
    written = [out_dir / "metrics.json", out_dir / "report.md"]
    written[0].write_text(json.dumps(dict(metrics), indent=2) + "\n", encoding="utf-8")
    written[1].write_text(report_markdown(metrics, title=title, notes=notes), encoding="utf-8")
    written.append(plot_paths_at_k(metrics, out_dir / "quality_at_k.png", title=title))
    if has_liked_counts(metrics):
        written.append(
            plot_liked_counts({title: metrics}, out_dir / "liked_counts.png", title=title)
        )
    return written


def writable_dir(path: Path) -> Path:
    """`path` as a directory that exists and can be written to (made if missing)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".reelrank-write-check"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ReelrankError(
            f"cannot write to {path}: {error.strerror or error}; choose another output directory"
        ) from None
    return path


def _model_colors(runs: Mapping[str, Metrics]) -> dict[str, str]:
    """One colour per model, fixed by its place in `runs`: a model keeps its colour in every
    panel and plot, also where other models have no line."""
    return {model: f"C{i % 10}" for i, model in enumerate(runs)}


def _line(
    axis: Any, metrics: Metrics, path: str, name: str, label: str, *, color: str | None = None
) -> None:
    """One line of `path/name@k` against k; dotted when a k between its points is missing (the
    retrieval stage is scored at 10 and 100 only), so the join is not read as a measurement."""
    ks = [k for k in PLOT_KS if f"{path}/{name}@{k}" in metrics]
    if ks:
        gaps = len(ks) < PLOT_KS.index(ks[-1]) - PLOT_KS.index(ks[0]) + 1
        values = [metrics[f"{path}/{name}@{k}"] for k in ks]
        axis.plot(ks, values, marker="o", linestyle=":" if gaps else "-", label=label, color=color)


def _k_axis(axis: Any, title: str, ylabel: str) -> None:
    axis.set_xscale("log")
    axis.set_xticks(PLOT_KS, [str(k) for k in PLOT_KS])
    axis.minorticks_off()
    axis.set_xlabel("k (places in the list)")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)


def _liked_tick(runs: Mapping[str, Metrics], label: str, prefix: str) -> str:
    """`label`, with the number of users scored when every run scored the same number."""
    users = {float(m[f"{prefix}/users"]) for m in runs.values() if f"{prefix}/users" in m}
    # A mean over folds is not a whole number of users: rounded, it still says how many.
    return f"{label}\n({round(users.pop()):,} users)" if len(users) == 1 else label


def _nan(values: Sequence[Any]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _save(plt: Any, figure: Any, out: Path) -> Path:
    try:
        figure.savefig(out, dpi=120)
    except OSError as error:
        raise ReelrankError(f"cannot write {out}: {error.strerror or error}") from None
    finally:
        plt.close(figure)
    return out
