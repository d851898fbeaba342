"""A real, throwaway PostgreSQL server for tests and benchmarks: `initdb` into a temporary folder,
`pg_ctl` on a free port (a Unix socket in that folder, no TCP), stopped and removed afterwards.

PostgreSQL refuses to run as root, so under root the server runs as the unprivileged `nobody`
user. The server binaries come from the system (Debian's `postgresql` package puts them under
`/usr/lib/postgresql/N/bin`); `find_postgres_bin` says where, or None.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

UNPRIVILEGED = "nobody"


def find_postgres_bin() -> Path | None:
    """The folder holding `initdb` and `pg_ctl` (the newest Debian install, else PATH)."""
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if installed:
        return installed[0].parent
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


@dataclass(frozen=True)
class PostgresServer:
    """A running server: `url(database)` is its SQLAlchemy-free `postgresql://` URL."""

    socket_dir: Path
    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}&port={self.port}"

    def create_database(self, name: str) -> str:
        """A new, empty database `name`; returns its URL."""
        import psycopg

        with psycopg.connect(
            host=str(self.socket_dir), port=self.port, user=self.user, dbname="postgres"
        ) as connection:
            connection.autocommit = True
            connection.execute(f'CREATE DATABASE "{name}"')  # a name the caller chose, not input
        return self.url(name)


@contextmanager
def postgres_server(bin_dir: Path | None = None) -> Iterator[PostgresServer]:
    """Start a throwaway server; stop it and remove its files on leaving the block."""
    bin_dir = bin_dir or find_postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="reelrank-pg-"))
    as_root = os.geteuid() == 0
    user = UNPRIVILEGED if as_root else _current_user()
    data = root / "data"
    try:
        if as_root:
            shutil.chown(root, user=UNPRIVILEGED)
            root.chmod(0o700)
        port = _free_port()
        _run(as_root, [str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust"])
        options = f"-k {root} -p {port} -c listen_addresses='' -c fsync=on"
        log = root / "server.log"  # the server's output: a pipe would keep pg_ctl waiting
        start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options]
        _run(as_root, [*start, "-w", "start"])
        try:
            yield PostgresServer(socket_dir=root, port=port, user=user)
        finally:
            _run(as_root, [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(as_root: bool, command: list[str]) -> None:
    if as_root:
        command = ["runuser", "-u", UNPRIVILEGED, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd="/")
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()[-800:]}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name
