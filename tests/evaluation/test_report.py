"""Reports: `reelrank report` on small artifacts trained on the synthetic data, and the tables and
plots of `reelrank.evaluation.report` on figures made up by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reelrank.cli import app
from reelrank.errors import ReelrankError
from reelrank.evaluation import report

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def run(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def train(grouplens_dir: Path, out: Path, *options: str) -> Path:
    code, _, stderr = run("train", "--data", grouplens_dir, "--out", out, "--json", *options)
    assert code == 0, stderr
    return out


@pytest.fixture(scope="module")
def ease_artifact(grouplens_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(grouplens_dir, tmp_path_factory.mktemp("report") / "ease", "--preset", "ease")


@pytest.fixture(scope="module")
def ease_report(
    ease_artifact: Path, grouplens_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report") / "out" / "ease"  # its parent is made too
    code, stdout, stderr = run("report", ease_artifact, "--out", out, "--data", grouplens_dir)
    assert code == 0, stderr
    return out, stdout


def test_report_writes_json_markdown_and_plots(ease_report: tuple[Path, str]) -> None:
    out, stdout = ease_report
    names = ["metrics.json", "report.md", "quality_at_k.png", "liked_counts.png"]
    assert stdout.split() == [str(out / name) for name in names]
    for name in names[2:]:
        assert (out / name).read_bytes().startswith(PNG)
        assert (out / name).stat().st_size > 10_000  # a drawn figure, not an empty canvas


def test_the_report_holds_what_evaluate_prints_and_the_liked_counts(
    ease_report: tuple[Path, str], ease_artifact: Path, grouplens_dir: Path
) -> None:
    out, _ = ease_report
    figures = json.loads((out / "metrics.json").read_text())
    code, stdout, _ = run("evaluate", ease_artifact, "--data", grouplens_dir, "--json")
    assert code == 0
    evaluated = json.loads(stdout)
    shared = {k: v for k, v in evaluated.items() if k not in ("artifact", "split")}
    assert {k: figures[k] for k in shared} == pytest.approx(shared)
    assert set(figures) - set(shared) == {
        key for key in figures if key.startswith(("liked@1/", "liked@3/", "liked@10/"))
    }
    assert figures["liked@1/users"] >= figures["liked@3/users"] >= figures["liked@10/users"] > 0


def test_the_markdown_table_shows_each_path_and_liked_count(ease_report: tuple[Path, str]) -> None:
    out, _ = ease_report
    figures = json.loads((out / "metrics.json").read_text())
    markdown = (out / "report.md").read_text()
    assert markdown.startswith("# ease on the test part of split random:0.8\n")
    rows = {
        line.split(" | ")[0].removeprefix("| "): line.strip("| \n").split(" | ")[1:]
        for line in markdown.splitlines()
        if line.startswith("| served") or line.startswith("| retrieval")
    }
    assert list(rows) == list(report.REPORT_ROWS.values())
    headers = [h for h, _ in report.REPORT_COLUMNS]
    liked_3 = dict(zip(headers, rows["served: liked movies (latest 3 given)"], strict=True))
    assert liked_3["R@10"] == f"{figures['liked@3/recall@10']:.4f}"
    assert liked_3["lists"] == f"{figures['liked@3/users']:,}"
    known = dict(zip(headers, rows["served: known user"], strict=True))
    assert known["NDCG@100"] == f"{figures['known_user/ndcg@100']:.4f}"
    assert "| test_ratings | " in markdown  # the figures of no list, in their own table


def test_report_of_a_rating_model_and_another_split(grouplens_dir: Path, tmp_path: Path) -> None:
    """The seed's model has no retrieval stage: known users only, no liked-count plot; on another
    split, the rows it trained on are left out and the report says so."""
    seed = train(grouplens_dir, tmp_path / "seed", "--epochs", "1")
    out = tmp_path / "out"
    code, stdout, stderr = run(
        "report", seed, "--out", out, "--data", grouplens_dir, "--split", "fold:1"
    )
    assert code == 0, stderr
    assert [Path(p).name for p in stdout.split()] == [
        "metrics.json",
        "report.md",
        "quality_at_k.png",
    ]
    figures = json.loads((out / "metrics.json").read_text())
    assert "known_user/recall@10" in figures and "liked/users" not in figures
    markdown = (out / "report.md").read_text()
    dropped = figures["test_ratings_dropped_as_trained_on"]
    assert dropped > 0 and f"{dropped:,} test ratings of fold:1 were in the model's" in markdown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "fold:9"], "invalid split 'fold:9'"),
        (["--out", "{file}"], "cannot write to"),
        (["--out", "{file}/sub"], "cannot write to"),
    ],
)
def test_report_errors_are_one_line(
    ease_artifact: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "file").write_text("not a folder")
    args = [a.format(file=tmp_path / "file") for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    code, _, stderr = run("report", ease_artifact, *args)
    assert code == 1
    assert message in stderr and "Traceback" not in stderr


def test_a_missing_artifact_is_named(tmp_path: Path) -> None:
    code, _, stderr = run("report", tmp_path / "nothing", "--out", tmp_path / "out")
    assert code == 1 and "no artifact at" in stderr


def test_without_matplotlib_the_fix_is_named(
    monkeypatch: pytest.MonkeyPatch, ease_artifact: Path, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # importing it now fails
    with pytest.raises(ReelrankError, match=r"pip install 'reelrank\[plots\]'"):
        report.pyplot()
    code, _, stderr = run("report", ease_artifact, "--out", tmp_path / "out")
    # (`fail` prints through rich markup, which drops the "[plots]"; the library error has it.)
    assert (
        code == 1
        and "plots need matplotlib, which is not installed: pip install 'reelrank[plots]'" in stderr
    )
    assert not (tmp_path / "out").exists()  # it failed before writing anything


def test_report_help() -> None:
    code, stdout, _ = run("report", "--help")
    assert code == 0 and "--out" in stdout


# Two made-up models: `a` with every path, `b` with the known-user list only.
A = {
    **{
        f"{p}/{m}@{k}": 0.1 * k / 100
        for p in ("known_user", "liked", "similar")
        for m in ("recall", "ndcg")
        for k in (10, 20, 50, 100)
    },
    **{f"retrieval/{m}@{k}": 0.05 for m in ("recall", "ndcg") for k in (10, 100)},
    **{f"liked@{n}/{m}@10": 0.01 * n for n in (1, 3, 10) for m in ("recall", "ndcg")},
    **{f"liked@{n}/users": 100 // n for n in (1, 3, 10)},
    "liked/users": 100,
    "root_mean_squared_error": 0.95,
}
B = {"known_user/recall@10": 0.2, "known_user/ndcg@10": 0.3, "known_user/users": 7}


def test_plots_of_several_models(tmp_path: Path) -> None:
    at_k = report.plot_models_at_k({"a": A, "b": B}, tmp_path / "k.png", title="t")
    counts = report.plot_liked_counts({"a": A, "b": B}, tmp_path / "n.png", title="t")
    assert at_k.read_bytes().startswith(PNG) and counts.read_bytes().startswith(PNG)
    with pytest.raises(ReelrankError, match="no list figures"):
        report.plot_models_at_k({"c": {"rmse": 1.0}}, tmp_path / "x.png", title="t")


def test_liked_ticks_show_the_users_when_every_model_agrees() -> None:
    assert report._liked_tick({"a": A}, "3", "liked@3") == "3\n(33 users)"
    assert report._liked_tick({"a": A, "b": {"liked@3/users": 5}}, "3", "liked@3") == "3"


def test_markdown_tables() -> None:
    table = report.model_table(
        {"a": A, "b": B}, [("R@10", "known_user/recall@10"), ("n", "liked@1/users")]
    )
    assert table.splitlines() == [
        "| model | R@10 | n |",
        "| :--- | ---: | ---: |",
        "| a | 0.0100 | 100 |",
        "| b | 0.2000 |  |",
    ]
    markdown = report.report_markdown(B, title="b", notes=["a note"])
    assert markdown.startswith("# b\n\na note\n")
    assert "| served: known user | 7 | 0.2000 | 0.3000 |" in markdown
    assert "## Other figures" not in markdown
