"""The supervised pool: SIGTERM or SIGINT stops every worker cleanly; a child that dies is
replaced; one that keeps dying on start is given up on and the pool says so."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from harness import children, renraku, worker_env

from renraku.engine.pool import Pool


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
