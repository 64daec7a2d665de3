"""The supervised pool: SIGTERM or SIGINT stops every worker cleanly; a child that dies is
replaced; one that keeps dying on start is given up on and the pool says so; a supervisor killed
outright takes its children (and their database sessions) with it."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from harness import children, renraku, worker_env
from sqlalchemy import create_engine, text

from renraku.engine.pool import _CTX, Pool, die_with
from renraku.store.engine import normalise_url


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_pool_stops_every_worker_and_reports_each(pg_url: str, sig: int) -> None:
    pool = renraku(
        ["worker", "--processes", "3", "--json"], worker_env(pg_url, "2026-03-05T01:00:00.000Z")
    )
    try:
        deadline = time.monotonic() + 60
        while len(children(pool.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = children(pool.pid)
        assert len(workers) == 3
        time.sleep(0.5)  # let them reach their loops
        pool.send_signal(sig)
        out, err = pool.communicate(timeout=30)
    finally:
        if pool.poll() is None:
            pool.kill()
            pool.communicate()
    assert pool.returncode == 0, err.decode()[-2000:]
    report = json.loads(out)
    assert report["Stopped"] is True
    assert sorted(p["Pid"] for p in report["Processes"]) == sorted(workers)  # each finished cleanly
    assert report["Restarts"] == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def _dies() -> dict[str, int]:
    os._exit(3)


def test_a_child_that_keeps_dying_on_start_is_given_up_after_backing_off() -> None:
    pool = Pool(_dies, 2, restart_delay=0.01, max_restart_delay=0.05, max_quick_crashes=4)
    started = time.monotonic()
    report = pool.run()
    assert report.failed_slots == 2
    assert report.restarts == 2 * 4  # four replacements each, then given up
    assert report.exit_codes == [3] * 10
    assert time.monotonic() - started < 20


def _once_then_ok(marker: str) -> dict[str, int]:
    path = Path(marker)
    if not path.exists():
        path.write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    return {"Steps": 7}


def test_a_killed_child_is_replaced_and_the_replacement_reports(tmp_path: Path) -> None:
    marker = str(tmp_path / "died")
    pool = Pool(lambda: _once_then_ok(marker), 1)
    report = pool.run()
    assert report.exit_codes == [-signal.SIGKILL]
    assert report.restarts == 1
    assert report.results == [{"Steps": 7}]
    assert report.failed_slots == 0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_children_of_a_supervisor_killed_outright_exit_and_release_their_sessions(
    pg_url: str,
) -> None:
    name = "pool-" + uuid.uuid4().hex[:8]
    url = f"{pg_url}&application_name={name}"
    pool = renraku(["worker", "--processes", "2"], worker_env(url, "2026-03-05T01:00:00.000Z"))
    admin = create_engine(normalise_url(pg_url))
    sessions = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n")
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        with admin.connect() as conn:
            while time.monotonic() < deadline:
                workers = children(pool.pid)
                if len(workers) == 2 and conn.execute(sessions, {"n": name}).scalar_one() >= 2:
                    break
                conn.rollback()
                time.sleep(0.1)
        assert len(workers) == 2
        pool.kill()
        pool.communicate(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in workers)
        with admin.connect() as conn:
            # Their connections, and with them any claim (row locks) they held, are gone.
            deadline = time.monotonic() + 10
            while conn.execute(sessions, {"n": name}).scalar_one() and time.monotonic() < deadline:
                conn.rollback()
                time.sleep(0.05)
            assert conn.execute(sessions, {"n": name}).scalar_one() == 0
    finally:
        for pid in {*workers, *children(pool.pid)}:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if pool.poll() is None:
            pool.kill()
            pool.communicate()
        admin.dispose()


def test_a_child_whose_supervisor_is_already_gone_terminates_itself() -> None:
    # Re-parented before it could ask for the signal: the parent it was given is not its parent.
    child = _CTX.Process(target=die_with, args=(os.getpid() + 1_000_000,))
    child.start()
    child.join(10)
    assert child.exitcode == -signal.SIGTERM
    same = _CTX.Process(target=die_with, args=(os.getpid(),))
    same.start()
    same.join(10)
    assert same.exitcode == 0
