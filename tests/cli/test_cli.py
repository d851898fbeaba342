"""The command line, run in-process on the synthetic data set written as a GroupLens folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reelrank.cli import app
from reelrank.cli.output import print_recommendations
from reelrank.data.splits import split_ratings
from reelrank.recommender.lists import Recommendation
from reelrank.recommender.recommender import Recommender
from reelrank.types import Ratings

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


def test_train_prints_a_metrics_table(grouplens_dir: Path, tmp_path: Path) -> None:
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
    assert "Evaluation on the test part of split fold:2" in stdout
    rmse_row = next(line for line in stdout.splitlines() if "root_mean_squared_error" in line)
    # A table row with the value to 4 decimals, not a Python dict with 16-digit floats.
    assert re.search(r"root_mean_squared_error\s*│\s*\d\.\d{4}\s*│", rmse_row), rmse_row
    assert "{" not in stdout and "'" not in stdout
    assert "epoch 1/1" in stderr  # the progress bar


def test_recommend_json(cli_artifact: Path) -> None:
    code, stdout, _ = run("recommend", cli_artifact, "--user", "9", "-k", "3", "--json")
    assert code == 0
    payload = json.loads(stdout)
    assert payload["order"] == "relevance"
    recs = payload["recommendations"]
    assert len(recs) == 3
    assert set(recs[0]) == {
        "movie_id",
        "movie_title",
        "year",
        "genres",
        "predicted_rating",
        "retrieval_score",
        "because_movie_id",
        "because_title",
    }
    model = Recommender.load(cli_artifact)
    info = model.catalog.movie_info(recs[0]["movie_id"])
    assert (recs[0]["year"], recs[0]["genres"]) == (info.year, info.genres)
    # The seed preset has no retrieval stage: the one number is a predicted rating, which orders
    # the list either way, and no liked movie explains it.
    assert all(r["retrieval_score"] is None and r["because_title"] is None for r in recs)
    ratings = [r["predicted_rating"] for r in recs]
    assert ratings == sorted(ratings, reverse=True)
    code, stdout, _ = run(
        "recommend", cli_artifact, "--user", "9", "-k", "3", "--order", "predicted-rating", "--json"
    )
    assert code == 0 and json.loads(stdout)["recommendations"] == recs


def test_include_seen_adds_exactly_the_rated_movies(cli_artifact: Path) -> None:
    model = Recommender.load(cli_artifact)
    rated = {title for _, title, _ in model.rated_movies("9")}
    every = str(len(model.catalog.movies))
    code, stdout, _ = run("recommend", cli_artifact, "--user", "9", "-k", every, "--json")
    unseen = {r["movie_title"] for r in json.loads(stdout)["recommendations"]}
    code, stdout, _ = run(
        "recommend", cli_artifact, "--user", "9", "-k", every, "--include-seen", "--json"
    )
    assert code == 0 and json.loads(stdout)["include_seen"] is True
    everything = {r["movie_title"] for r in json.loads(stdout)["recommendations"]}
    assert rated and not rated & unseen
    assert everything == unseen | rated
    code, stdout, _ = run("recommend", cli_artifact, "--user", "9", "-k", "2", "--include-seen")
    assert code == 0 and "Top 2 movies for user 9 (already-rated movies included)" in stdout


def test_recommend_pages_and_filters(cli_artifact: Path) -> None:
    code, stdout, _ = run("recommend", cli_artifact, "--user", "9", "-k", "6", "--json")
    six = json.loads(stdout)["recommendations"]
    code, stdout, _ = run(
        "recommend", cli_artifact, "--user", "9", "-k", "3", "--offset", "3", "--json"
    )
    assert code == 0 and json.loads(stdout)["recommendations"] == six[3:]
    genre = next(g for r in six for g in r["genres"] if g != "unknown")
    code, stdout, _ = run(
        "recommend", cli_artifact, "--user", "9", "-k", "3", "--offset", "3", "--genre", genre
    )
    assert code == 0 and f"Movies 4-6 ({genre}) for user 9" in stdout
    assert re.search(r"│\s+4 │", stdout)  # numbered from the offset
    code, _, stderr = run("recommend", cli_artifact, "--user", "9", "--genre", "Cartoons")
    assert code == 1 and "unknown genre 'Cartoons'" in stderr


def test_score_trained_and_untrained(cli_artifact: Path) -> None:
    code, stdout, _ = run("recommend", cli_artifact, "--user", "9", "-k", "1", "--json")
    title = json.loads(stdout)["recommendations"][0]["movie_title"]
    code, stdout, _ = run("score", cli_artifact, "--user", "9", "--movie", title, "--json")
    trained = json.loads(stdout)["scores"][0]["predicted_rating"]
    code, stdout, _ = run(
        "score", cli_artifact, "--user", "9", "--movie", title, "--untrained", "--json"
    )
    untrained = json.loads(stdout)["scores"][0]["predicted_rating"]
    assert code == 0 and abs(untrained) < 0.5 < abs(trained)


def test_evaluate_on_its_split_and_another(
    cli_artifact: Path, grouplens_dir: Path, ratings: Ratings
) -> None:
    code, stdout, _ = run("evaluate", cli_artifact, "--data", grouplens_dir, "--json")
    own = json.loads(stdout)
    assert code == 0 and own["split"] == "random:0.8"
    code, stdout, _ = run(
        "evaluate", cli_artifact, "--data", grouplens_dir, "--split", "fold:1", "--json"
    )
    other = json.loads(stdout)
    assert code == 0 and other["split"] == "fold:1"
    # Fold 1's test rows overlap the random split's training rows: those are left out, and the
    # figures are those of the rest, worked out here from the model's predictions.
    model = Recommender.load(cli_artifact)
    _, test = split_ratings(ratings, "fold:1", seed=model.config.training.seed)
    trained = {(u, t) for u in set(test.user_id) for _, t, _ in model.rated_movies(u)}
    fresh = np.array(
        [(u, t) not in trained for u, t in zip(test.user_id, test.movie_title, strict=True)]
    )
    test = test.take(fresh)
    assert 0 < other["test_ratings"] == len(test) < len(fresh)
    assert other["test_ratings_dropped_as_trained_on"] == len(fresh) - len(test)
    predicted = np.array(
        [
            model.score(u, [t])[0].predicted_rating
            for u, t in zip(test.user_id, test.movie_title, strict=True)
        ]
    )
    expected = float(np.sqrt(np.mean((predicted - test.user_rating) ** 2)))
    assert other["root_mean_squared_error"] == pytest.approx(expected, rel=1e-5)
    code, stdout, stderr = run(
        "evaluate", cli_artifact, "--data", grouplens_dir, "--split", "fold:1"
    )
    assert code == 0 and "Evaluation on the test part of split fold:1" in stdout
    assert f"{expected:.4f}" in stdout
    assert f"{len(fresh) - len(test)} test ratings of fold:1 were in the model's training" in stderr


def test_piped_tables_do_not_wrap(capsys: pytest.CaptureFixture[str]) -> None:
    title = "A Very Long Title " * 8 + "(1999)"
    print_recommendations("Top 1", [Recommendation("1", title, predicted_rating=4.25)])
    lines = capsys.readouterr().out.splitlines()
    assert any(title in line and "4.250" in line for line in lines)


def test_an_unexpected_error_says_it_is_a_bug(
    cli_artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: object) -> None:
        # Brackets like gloo's '[/path/pair.cc:537]' are text, not rich markup.
        raise RuntimeError("something inside broke [/x/pair.cc:537]")

    monkeypatch.setattr(Recommender, "load", broken)
    code, stdout, stderr = run("recommend", cli_artifact, "--user", "9")
    assert code == 70 and "Traceback" not in stderr + stdout
    assert "unexpected RuntimeError: something inside broke [/x/pair.cc:537]" in stderr
    assert "bug" in stderr
    log = Path(re.search(r"traceback is in (\S+?reelrank-crash-\S+?\.log)", stderr)[1])
    assert "RuntimeError: something inside broke" in log.read_text()
    log.unlink()


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


def test_two_stage_recommend_shows_rating_and_because(two_stage_artifact: Path) -> None:
    code, stdout, _ = run("recommend", two_stage_artifact, "--user", "9", "-k", "3")
    assert code == 0 and "predicted rating" in stdout and "because you liked" in stdout
    assert "retrieval score" not in stdout  # an internal number: only with --scores
    code, stdout, _ = run("recommend", two_stage_artifact, "--user", "9", "-k", "3", "--scores")
    assert code == 0 and "retrieval score" in stdout and "predicted rating" in stdout
    code, stdout, _ = run("recommend", two_stage_artifact, "--user", "9", "-k", "3", "--json")
    recs = json.loads(stdout)["recommendations"]
    assert all(r["predicted_rating"] is not None and r["retrieval_score"] is not None for r in recs)
    # Each names one of the user's liked training movies, and the table shows it.
    model = Recommender.load(two_stage_artifact)
    rated = {title: rating for _, title, rating in model.rated_movies("9")}
    liked = {t for t, r in rated.items() if r >= min(4, max(rated.values()))}
    assert all(r["because_title"] in liked for r in recs)
    code, stdout, _ = run("recommend", two_stage_artifact, "--user", "9", "-k", "3")
    row = next(line for line in stdout.splitlines() if recs[0]["movie_title"] in line)
    assert recs[0]["because_title"] in row


def test_recommend_order(two_stage_artifact: Path) -> None:
    args = ("recommend", two_stage_artifact, "--user", "9", "-k", "8", "--json")
    code, stdout, _ = run(*args)
    best_match = json.loads(stdout)["recommendations"]
    scores = [r["retrieval_score"] for r in best_match]
    assert code == 0 and scores == sorted(scores, reverse=True)
    code, stdout, _ = run(*args, "--order", "relevance")
    assert code == 0 and json.loads(stdout)["recommendations"] == best_match
    code, stdout, _ = run(*args, "--order", "predicted-rating")
    payload = json.loads(stdout)
    assert code == 0 and payload["order"] == "predicted_rating"
    ratings = [r["predicted_rating"] for r in payload["recommendations"]]
    assert ratings == sorted(ratings, reverse=True)
    model = Recommender.load(two_stage_artifact)
    expected = model.recommend("9", 8, order="predicted_rating")
    assert [r["movie_id"] for r in payload["recommendations"]] == [e.movie_id for e in expected]
    code, stdout, _ = run(
        "recommend", two_stage_artifact, "--liked", "1", "-k", "3", "--order", "predicted-rating"
    )
    assert code == 0 and "highest predicted rating first" in stdout
    code, stdout, stderr = run(*args, "--order", "rating")
    assert code == 1 and "--order must be relevance" in stderr and "got 'rating'" in stderr
    assert len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["similar", "liked"])
def test_a_huge_k_lists_the_catalogue_at_most(two_stage_artifact: Path, command: str) -> None:
    """`-k 10000000000` once padded lists to k columns: 24 GB, or a RuntimeError traceback."""
    args = ["1"] if command == "similar" else ["--liked", "1"]
    verb = "similar" if command == "similar" else "recommend"
    code, stdout, stderr = run(verb, two_stage_artifact, *args, "-k", "10000000000", "--json")
    assert code == 0, stderr
    payload = json.loads(stdout)
    rows = payload["similar" if command == "similar" else "recommendations"]
    assert 0 < len(rows) < 10_000


def test_liked_and_similar(two_stage_artifact: Path) -> None:
    code, stdout, _ = run("similar", two_stage_artifact, "1", "-k", "4", "--json")
    payload = json.loads(stdout)
    assert code == 0 and len(payload["similar"]) == 4
    assert all(
        r["predicted_rating"] is None and r["retrieval_score"] is not None
        for r in payload["similar"]
    )
    title = payload["movie"]["movie_title"]
    code, stdout, stderr = run(
        "recommend", two_stage_artifact, "--liked", title.lower(), "--liked", "2", "--json"
    )
    assert code == 0, stderr
    payload = json.loads(stdout)
    second = payload["liked"][1]["movie_title"]
    assert [m["movie_title"] for m in payload["liked"]] == [title, second]
    recs = payload["recommendations"]
    assert len(recs) == 10 and not {title, second} & {r["movie_title"] for r in recs}
    # The heading names the movies as matched, not as typed.
    code, stdout, _ = run("recommend", two_stage_artifact, "--liked", title.lower(), "-k", "2")
    assert code == 0 and f"Top 2 movies for someone who liked {title}" in stdout
    code, stdout, _ = run("similar", two_stage_artifact, "1", "-k", "4")
    assert code == 0 and "predicted rating" not in stdout and "retrieval score" not in stdout
    assert "because you liked" not in stdout  # similar movies are because of the one movie
    code, stdout, _ = run("similar", two_stage_artifact, "1", "-k", "4", "--scores")
    assert code == 0 and "retrieval score" in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["recommend", "{art}"], "say who to recommend for: give --user ID"),
        (["recommend", "{art}", "--user", "9", "--liked", "1"], "not both"),
        (["recommend", "{art}", "--liked", "Zzzz Qqqq"], "no movie matches"),
        (["recommend", "{art}", "--liked", "1", "--include-seen"], "applies to --user only"),
        (["similar", "{art}", "Zzzz Qqqq"], "no movie matches"),
        (["similar", "{art}", "1", "-k", "-3"], "k must be a positive integer"),
    ],
)
def test_two_stage_bad_input(two_stage_artifact: Path, args: list[str], message: str) -> None:
    code, stdout, stderr = run(*[a.format(art=two_stage_artifact) for a in args])
    assert code == 1 and message in stderr and "Traceback" not in stderr + stdout


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("file", "is a file, not a directory"),
        ("file/sub", "is a file, not a directory"),
        ("other", "exists and is not a reelrank artifact"),
    ],
)
def test_train_checks_out_before_loading_data_or_training(
    tmp_path: Path, make: str, message: str
) -> None:
    """`--out EXISTING_FILE` once trained for 18 s, then refused and threw the model away. The
    data path given does not exist: the --out error must come first."""
    (tmp_path / "file").write_text("not an artifact")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    out = tmp_path / make
    code, _, stderr = run("train", "--out", str(out), "--data", str(tmp_path / "missing"))
    assert code == 1 and message in stderr and str(out) in stderr
    assert ".probe" not in stderr and ".tmp" not in stderr
    assert (tmp_path / "file").read_text() == "not an artifact"
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_train_refuses_too_few_ratings_before_training(tmp_path: Path, ratings: Ratings) -> None:
    """A ratings folder with 1 rating once trained and saved a model with 0 test ratings."""
    from reelrank.testing.ml100k_files import write_grouplens

    folder = write_grouplens(ratings.take(np.array([0])), tmp_path / "one")
    out = tmp_path / "model"
    code, _, stderr = run("train", "--data", str(folder), "--out", str(out))
    assert code == 1
    assert "split random:0.8 of 1 rating leaves 1 to train on and 0 to test on" in stderr
    assert not out.exists()
