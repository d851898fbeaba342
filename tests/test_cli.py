"""The command line, run in-process on the synthetic data set written as a GroupLens folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reelrank.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def cli_artifact(grouplens_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "model"
    code, stdout, stderr = run(
        "train", "--data", grouplens_dir, "--epochs", "2", "--out", out, "--json"
    )
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["artifact"] == str(out)
    assert {"root_mean_squared_error", "loss", "regularization_loss", "total_loss"} <= set(
        payload["metrics"]
    )
    return out


def test_help_on_every_command() -> None:
    for command in ([], ["train"], ["evaluate"], ["recommend"], ["score"], ["data", "info"]):
        code, stdout, _ = run(*command, "--help")
        assert code == 0 and "Usage" in stdout


def test_train_human_output_prints_the_seed_dict(grouplens_dir: Path, tmp_path: Path) -> None:
    code, stdout, stderr = run(
        "train",
        "--data",
        grouplens_dir,
        "--epochs",
        "1",
        "--split",
        "fold:2",
        "--out",
        tmp_path / "m",
    )
    assert code == 0, stderr
    assert "'root_mean_squared_error':" in stdout and "fold:2" in stdout
    assert "epoch 1/1" in stderr  # the progress bar


def test_recommend_json(cli_artifact: Path) -> None:
    code, stdout, _ = run("recommend", cli_artifact, "--user", "9", "-k", "3", "--json")
    assert code == 0
    recs = json.loads(stdout)["recommendations"]
    assert len(recs) == 3 and set(recs[0]) == {"movie_id", "movie_title", "score"}


def test_recommend_table_and_include_seen(cli_artifact: Path) -> None:
    code, stdout, _ = run("recommend", cli_artifact, "--user", "9", "-k", "2", "--include-seen")
    assert code == 0 and "Top 2 movies for user 9" in stdout


def test_score_trained_and_untrained(cli_artifact: Path) -> None:
    code, stdout, _ = run("recommend", cli_artifact, "--user", "9", "-k", "1", "--json")
    title = json.loads(stdout)["recommendations"][0]["movie_title"]
    code, stdout, _ = run("score", cli_artifact, "--user", "9", "--movie", title, "--json")
    trained = json.loads(stdout)["scores"][0]["score"]
    code, stdout, _ = run(
        "score", cli_artifact, "--user", "9", "--movie", title, "--untrained", "--json"
    )
    untrained = json.loads(stdout)["scores"][0]["score"]
    assert code == 0 and abs(untrained) < 0.5 < abs(trained)


def test_evaluate_on_its_split_and_another(cli_artifact: Path, grouplens_dir: Path) -> None:
    code, stdout, _ = run("evaluate", cli_artifact, "--data", grouplens_dir, "--json")
    assert code == 0 and json.loads(stdout)["split"] == "random:0.8"
    code, stdout, _ = run(
        "evaluate", cli_artifact, "--data", grouplens_dir, "--split", "fold:1", "--json"
    )
    assert code == 0 and json.loads(stdout)["root_mean_squared_error"] > 0


def test_data_info_json(grouplens_dir: Path, ratings_count: int = 1500) -> None:
    code, stdout, stderr = run("data", "info", "--data", grouplens_dir, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["ratings"] == ratings_count


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["recommend", "{art}", "--user", "99999"], "unknown user_id '99999'"),
        (["recommend", "{art}", "--user", "9", "-k", "0"], "k must be a positive integer"),
        (["recommend", "{missing}", "--user", "9"], "no artifact at"),
        (["score", "{art}", "--user", "9", "--movie", "Nope (1900)"], "unknown movie title"),
        (["train", "--split", "random:2", "--data", "{data}"], "invalid split"),
        (["train", "--preset", "nope", "--data", "{data}"], "unknown preset"),
        (["train", "--epochs", "0", "--data", "{data}"], "--epochs must be at least 1"),
        (["train", "--data", "{missing}"], "{missing}"),
    ],
)
def test_bad_input_is_one_clear_line(
    cli_artifact: Path, grouplens_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    fill = {
        "art": str(cli_artifact),
        "missing": str(tmp_path / "missing"),
        "data": str(grouplens_dir),
    }
    code, stdout, stderr = run(*[a.format(**fill) for a in args])
    assert code == 1
    assert message.format(**fill) in stderr
    assert "Traceback" not in stderr + stdout
    assert stderr.strip().startswith("error:") and len(stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def two_stage_artifact(grouplens_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli2") / "two-stage"
    code, _, stderr = run(
        "train", "--preset", "two-stage", "--data", grouplens_dir, "--epochs", "2", "--out", out
    )
    assert code == 0, stderr
    return out


def test_two_stage_recommend_shows_both_scores(two_stage_artifact: Path) -> None:
    code, stdout, _ = run("recommend", two_stage_artifact, "--user", "9", "-k", "3")
    assert code == 0 and "retrieval score" in stdout and "predicted rating" in stdout
    code, stdout, _ = run("recommend", two_stage_artifact, "--user", "9", "-k", "3", "--json")
    assert {"movie_id", "movie_title", "score", "retrieval_score"} == set(
        json.loads(stdout)["recommendations"][0]
    )


def test_liked_and_similar(two_stage_artifact: Path) -> None:
    code, stdout, _ = run("similar", two_stage_artifact, "1", "-k", "4", "--json")
    payload = json.loads(stdout)
    assert code == 0 and len(payload["similar"]) == 4
    title = payload["movie"]["movie_title"]
    code, stdout, stderr = run(
        "recommend", two_stage_artifact, "--liked", title.lower(), "--liked", "2", "--json"
    )
    assert code == 0, stderr
    recs = json.loads(stdout)["recommendations"]
    assert len(recs) == 10 and title not in {r["movie_title"] for r in recs}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["recommend", "{art}"], "give either --user ID or one or more --liked TITLE"),
        (["recommend", "{art}", "--user", "9", "--liked", "1"], "not both"),
        (["recommend", "{art}", "--liked", "Zzzz Qqqq"], "no movie matches"),
        (["similar", "{art}", "Zzzz Qqqq"], "no movie matches"),
        (["similar", "{art}", "1", "-k", "-3"], "k must be a positive integer"),
    ],
)
def test_two_stage_bad_input(two_stage_artifact: Path, args: list[str], message: str) -> None:
    code, stdout, stderr = run(*[a.format(art=two_stage_artifact) for a in args])
    assert code == 1 and message in stderr and "Traceback" not in stderr + stdout
