"""`reelrank serve`: argument checks and start-up refusal in the CLI; how `serve` runs uvicorn."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from reelrank import cli
from reelrank.recommender.recommender import Recommender
from reelrank.service import server
from reelrank.service.app import ARTIFACT_ENV, THREADS_ENV

runner = CliRunner()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Records what the CLI asks the server to do instead of serving."""
    seen: list[dict[str, Any]] = []

    def fake_serve(artifact: Path, **kwargs: Any) -> None:
        seen.append({"artifact": artifact, **kwargs})

    monkeypatch.setattr(server, "serve", fake_serve)
    return seen


def test_serve_loads_the_artifact_then_serves_on_loopback(
    two_stage_artifact: Path, calls: list[dict[str, Any]]
) -> None:
    result = runner.invoke(cli.app, ["serve", str(two_stage_artifact), "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert len(calls) == 1
    call = calls[0]
    assert call["artifact"] == two_stage_artifact
    assert (call["host"], call["port"], call["workers"], call["threads"]) == (
        "127.0.0.1",
        8123,
        1,
        1,
    )
    assert isinstance(call["recommender"], Recommender)  # loaded once, handed over


def test_serve_with_workers_lets_each_worker_load(
    two_stage_artifact: Path, calls: list[dict[str, Any]]
) -> None:
    result = runner.invoke(cli.app, ["serve", str(two_stage_artifact), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert calls[0]["workers"] == 2 and calls[0]["recommender"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "0"], "--port must be between 1 and 65535"),
        (["--port", "70000"], "--port must be between 1 and 65535"),
        (["--workers", "0"], "--workers and --threads must be at least 1"),
        (["--threads", "0"], "--workers and --threads must be at least 1"),
    ],
)
def test_serve_rejects_bad_arguments(
    two_stage_artifact: Path, calls: list[dict[str, Any]], args: list[str], message: str
) -> None:
    result = runner.invoke(cli.app, ["serve", str(two_stage_artifact), *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output and not calls


def test_serve_refuses_a_missing_or_corrupt_artifact(
    tmp_path: Path, calls: list[dict[str, Any]]
) -> None:
    missing = runner.invoke(cli.app, ["serve", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "error:" in missing.output
    assert "Traceback" not in missing.output
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text("{not json")
    result = runner.invoke(cli.app, ["serve", str(corrupt)])
    assert result.exit_code == 1 and "error:" in result.output
    assert "Traceback" not in result.output
    assert not calls


def test_serve_one_worker_runs_the_loaded_app(
    two_stage: Recommender, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append((app, kw)))
    monkeypatch.setenv(ARTIFACT_ENV, "")
    server.serve(tmp_path, port=8124, recommender=two_stage)
    app, options = runs[0]
    assert app.state.recommender is two_stage
    assert options["host"] == "127.0.0.1" and options["port"] == 8124
    assert options["access_log"] is False  # per-request logging costs throughput


def test_serve_many_workers_shares_a_nodelay_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []

    class FakeMultiprocess:
        def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
            started.append((config, sockets))

        def run(self) -> None:
            pass

    monkeypatch.setattr(server, "Multiprocess", FakeMultiprocess)
    monkeypatch.setenv(ARTIFACT_ENV, "")
    monkeypatch.setenv(THREADS_ENV, "")
    server.serve(tmp_path, port=0, workers=3, threads=2)
    config, sockets = started[0]
    try:
        assert config.workers == 3 and config.factory
        assert config.app == "reelrank.service.app:app_from_env"
        nodelay = sockets[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert nodelay != 0
        assert sockets[0].getsockname()[0] == "127.0.0.1"
    finally:
        sockets[0].close()
    assert os.environ[ARTIFACT_ENV] == str(tmp_path.resolve())
    assert os.environ[THREADS_ENV] == "2"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("x.y", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert server.is_loopback(host) is loopback


def test_serve_opens_the_store_and_reads_the_key_before_serving(
    two_stage_artifact: Path, calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    key = tmp_path / "api.key"
    key.write_text("a-key-of-enough-length-0123456789\n")
    store = tmp_path / "ratings.sqlite3"
    args = ["serve", str(two_stage_artifact), "--store", str(store), "--api-key-file", str(key)]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert calls[0]["store"] == f"sqlite:///{store}" and store.is_file()
    assert calls[0]["api_key"] == "a-key-of-enough-length-0123456789"
    assert "Ratings are stored in" in result.output


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        ("corrupt", "corrupt or not a reelrank store"),
        ("short key", "at least 16 printable characters"),
        ("missing key", "cannot read the API key file"),
    ],
)
def test_serve_refuses_a_bad_store_or_key_at_start(
    two_stage_artifact: Path, calls: list[dict[str, Any]], tmp_path: Path, setup: str, says: str
) -> None:
    store, key = tmp_path / "ratings.sqlite3", tmp_path / "api.key"
    key.write_text("a-key-of-enough-length-0123456789")
    if setup == "corrupt":
        store.write_bytes(b"garbage, not a database " * 100)
    elif setup == "short key":
        key.write_text("short")
    else:
        key.unlink()
    args = ["serve", str(two_stage_artifact), "--store", str(store), "--api-key-file", str(key)]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 1 and says in result.output, result.output
    assert "Traceback" not in result.output and not calls


def test_a_serving_app_exempts_what_it_loaded_from_garbage_collection(
    two_stage: Recommender, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`reelrank serve` freezes what is alive once the model is loaded (a full collection
    walking it mid-request was the PUT latency's tail); an app made in a test or a notebook
    does not."""
    import gc

    from fastapi.testclient import TestClient

    from reelrank.service import create_app

    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    with TestClient(create_app(two_stage)):
        assert frozen == []
    with TestClient(create_app(two_stage, freeze_loaded=True)):
        assert frozen == [True]
