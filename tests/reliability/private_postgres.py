"""A PostgreSQL cluster of a test's own, which the test may restart or crash without disturbing
the shared server every other test uses.

It is made with the server's own tools (``initdb``, ``pg_ctl``), which refuse to run as root: a
root test process runs them as the ``postgres`` OS user (``runuser -u postgres --``), any other
user runs them as itself. The cluster lives in a temporary directory owned by that user, listens
on 127.0.0.1 at a free port and keeps its socket in that directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN = Path(os.environ.get("RENRAKU_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
IN_CI = os.environ.get("CI", "").lower() == "true"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One private cluster: ``url`` for its ``postgres`` database, and the ways to disturb it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = 0

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str, timeout: float = 60) -> str:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*prefix, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}\n{tail}")
        return done.stdout

    def _pg_ctl(self, *args: str) -> None:
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        self._as_postgres(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts,
            "-w", "-t", "60", *args,
        )  # fmt: skip

    def init(self) -> None:
        self._as_postgres(
            str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        """Start on a free port (another one if that port was taken meanwhile)."""
        for _ in range(5):
            self.port = _free_port()
            try:
                self._pg_ctl("start")
                return
            except RuntimeError:
                if "could not bind" not in (self.log.read_text() if self.log.exists() else ""):
                    raise
        raise RuntimeError("no free port for the private PostgreSQL cluster")

    def restart(self, mode: str) -> float:
        """``pg_ctl restart -m mode`` (``fast``: clients disconnected, a clean shutdown;
        ``immediate``: the server processes killed, crash recovery on start); its seconds."""
        started = time.monotonic()
        self._pg_ctl("restart", "-m", mode)
        return time.monotonic() - started

    def stop(self) -> None:
        self._as_postgres(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop",
        )  # fmt: skip


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A running private cluster, stopped and removed afterwards. Skips where the server's tools
    or the ``postgres`` user are missing (fails under CI=true)."""
    problem = None
    if not (BIN / "initdb").exists():
        problem = f"no initdb in {BIN} (set RENRAKU_TEST_PG_BIN)"
    elif os.geteuid() == 0 and shutil.which("runuser") is None:
        problem = "a root test process needs runuser to start a cluster as the postgres user"
    if problem:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    root = Path(tempfile.mkdtemp(prefix="renraku-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    root.chmod(0o700)
    cluster = Cluster(root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        try:
            if (cluster.data / "postmaster.pid").exists():
                cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
