"""The command line on other data: MovieLens sets in their real formats, and people's own files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reelrank.cli import app
from reelrank.testing.zip_files import dataset_files, synthetic_tables, write_dataset_folder
from reelrank.types import Ratings

runner = CliRunner()


def run(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def own_csv(ratings: Ratings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic ratings as a CSV with names of someone's own choosing."""
    path = tmp_path_factory.mktemp("own") / "events.csv"
    lines = ["member,film,stars,when"] + [
        f"u{u},{m},{r:g},{t}"
        for u, m, r, t in zip(
            ratings.user_id, ratings.movie_id, ratings.user_rating, ratings.timestamp, strict=True
        )
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_and_evaluate_own_file(own_csv: Path, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "model"
    mapping = "user=member,movie=film,rating=stars,timestamp=when"
    code, stdout, stderr = run(
        "train", "--ratings", own_csv, "--columns", mapping, "--epochs", "2",
        "--out", out, "--cache-dir", cache, "--json",
    )  # fmt: skip
    assert code == 0, stderr
    trained = json.loads(stdout)["metrics"]
    assert np.isfinite(trained["root_mean_squared_error"])
    assert len(list((cache / "encoded").iterdir())) == 1  # parsed once, then cached
    # evaluate reads the data the artifact recorded, from the cache: the same figures.
    code, stdout, stderr = run("evaluate", out, "--cache-dir", cache, "--json")
    assert code == 0, stderr
    again = json.loads(stdout)
    assert again["root_mean_squared_error"] == pytest.approx(trained["root_mean_squared_error"])
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["source"]["ratings"] == str(own_csv.resolve())
    assert config["data"]["dataset"].startswith("ratings file ")
    code, stdout, _ = run("recommend", out, "--user", "u7", "-k", "3", "--json")
    assert code == 0 and len(json.loads(stdout)["recommendations"]) == 3


def test_views_train_retrieval_only(own_csv: Path, tmp_path: Path) -> None:
    views = "user=member,movie=film,timestamp=when"
    code, _, stderr = run(
        "train", "--ratings", own_csv, "--columns", views, "--out", tmp_path / "m",
        "--cache-dir", tmp_path / "c",
    )  # fmt: skip
    assert code != 0 and "star ratings" in stderr and "Traceback" not in stderr
    code, stdout, stderr = run(
        "train", "--ratings", own_csv, "--columns", views, "--preset", "ease",
        "--out", tmp_path / "m", "--cache-dir", tmp_path / "c", "--json",
    )  # fmt: skip
    assert code == 0, stderr
    metrics = json.loads(stdout)["metrics"]
    assert "known_user/recall@10" in metrics and "root_mean_squared_error" not in metrics
    assert metrics["liked/users"] > 0  # with views, every movie a user holds counts as liked


@pytest.mark.parametrize("name", ["ml-1m", "ml-latest-small"])
def test_train_on_a_grouplens_folder(name: str, tmp_path: Path) -> None:
    tables = synthetic_tables(name, n_ratings=3000, n_users=60, n_movies=90, seed=1)
    folder = write_dataset_folder(name, dataset_files(name, tables), tmp_path)
    code, stdout, stderr = run(
        "train", "--dataset", name, "--data", folder, "--epochs", "1",
        "--out", tmp_path / "m", "--cache-dir", tmp_path / "c", "--json",
    )  # fmt: skip
    assert code == 0, stderr
    assert json.loads(stdout)["metrics"]["train_ratings"] == 2400
    code, stdout, _ = run("data", "info", "--dataset", name, "--data", folder,
                          "--cache-dir", tmp_path / "c", "--json")  # fmt: skip
    assert code == 0 and json.loads(stdout)["ratings"] == 3000


def test_data_options_are_checked(tmp_path: Path, own_csv: Path) -> None:
    code, _, stderr = run("train", "--dataset", "ml-99m", "--out", tmp_path / "m")
    assert code != 0 and "unknown data set 'ml-99m'" in stderr and "ml-25m" in stderr
    code, _, stderr = run("train", "--columns", "user=a,movie=b", "--out", tmp_path / "m")
    assert code != 0 and "--ratings FILE" in stderr
    code, _, stderr = run("train", "--ratings", tmp_path / "none.csv", "--out", tmp_path / "m")
    assert code != 0 and "none.csv" in stderr
    code, _, stderr = run("train", "--ratings", own_csv, "--data", own_csv, "--out", tmp_path)
    assert code != 0 and "not both" in stderr
    code, stdout, _ = run("data", "info", "--dataset", "ml-25m", "--cache-dir", tmp_path, "--json")
    assert code == 0 and json.loads(stdout)["cached"] is False
    assert "ml-25m.zip" in json.loads(stdout)["note"]


def test_synth_writes_a_folder_the_ml25m_loader_reads(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    code, stdout, stderr = run(
        "data", "synth", "--out", out, "--ratings", 5000, "--users", 100, "--movies", 200,
        "--json",
    )  # fmt: skip
    assert code == 0, stderr
    assert json.loads(stdout)["ratings"] == 5000
    code, stdout, stderr = run(
        "data", "info", "--dataset", "ml-25m", "--data", out, "--cache-dir", tmp_path / "c",
        "--json",
    )  # fmt: skip
    assert code == 0, stderr
    info = json.loads(stdout)
    assert (info["ratings"], info["users"]) == (5000, 100)
    code, _, stderr = run("data", "synth", "--out", out, "--ratings", 5000, "--users", 100)
    assert code != 0 and "--out" in stderr and "Traceback" not in stderr
    code, _, stderr = run("data", "synth", "--out", tmp_path / "x", "--ratings", 5, "--users", 9)
    assert code != 0 and "Traceback" not in stderr
