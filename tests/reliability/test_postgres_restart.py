"""The PostgreSQL server itself restarted mid-journey: a cluster of the test's own
(private_postgres.py, so the shared server other tests use is never touched) serves two pooled
workers and the API; it is restarted cleanly (``pg_ctl restart -m fast``), then crashed and
recovered (``-m immediate``), and in between the workers' statements run into their statement
timeout behind a lock. Workers and the API recover by themselves; nobody is lost or entered
twice; each message reaches its provider exactly once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import harness
import httpx
from api_support import bearer, live_server
from private_postgres import private_cluster
from sqlalchemy import func, select, text

from renraku.api import keyring
from renraku.api.config import ServerSettings
from renraku.app import App, build_app
from renraku.engine.config import JourneySettings
from renraku.services import journeys
from renraku.settings import ClockSettings, Settings
from renraku.store.participants import participants

START = "2026-03-05T01:00:00.000Z"
USERS = 150
# Each fault waits for this many more deliveries than the one before, so all three land while
# the journey runs (350 deliveries in all).
STRIDE = 40


def _unfinished(app: App) -> int:
    with app.store.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(participants)
                .where(participants.c.status != "FINISHED")
            ).scalar_one()
        )


def _await_deliveries(app: App, at_least: int, pool_alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while harness.delivered(app) < at_least:
        assert pool_alive(), "the workers stopped mid-journey"
        assert time.monotonic() < deadline, f"fewer than {at_least} deliveries after 60 s"
        time.sleep(0.05)


def test_postgres_restarted_fast_and_immediate_mid_journey_loses_nobody_and_sends_once(
    tmp_path: Path,
) -> None:
    with private_cluster() as pg:
        settings = Settings(
            db=pg.url,
            clock=ClockSettings(mode="virtual", virtual_start=START),
            journeys=JourneySettings(record_channels=["VOICE", "SMS", "EMAIL"]),
            server=ServerSettings(master_key_file=str(tmp_path / "master.key")),
        )
        app = build_app(settings)
        pool = None
        try:
            app_id, journey_id, users, pressed = harness.seed_journey(app, USERS)
            key = keyring.create_key(app, app_id)
            env = harness.worker_env(pg.url + "?options=-cstatement_timeout%3D1000", START)
            pool = harness.renraku(
                ["worker", "--processes", "2", "--run-for", "1d", "--batch-size", "1", "--json"],
                env,
            )
            faults: list[str] = []
            with (
                live_server(app) as base,
                httpx.Client(base_url=base, headers=bearer(key), timeout=30) as http,
            ):
                metrics_path = f"/api/v1/apps/{app_id}/journeys/{journey_id}/metrics"
                for n, fault in enumerate(("fast", "statement-timeout", "immediate"), start=1):
                    _await_deliveries(app, n * STRIDE, lambda: pool.poll() is None)
                    if fault == "statement-timeout":
                        # the workers' statements wait behind the lock past their 1 s timeout
                        with app.store.begin() as held:
                            held.execute(text("LOCK TABLE participants IN ACCESS EXCLUSIVE MODE"))
                            time.sleep(2.5)
                    else:
                        pg.restart(fault)
                    faults.append(fault)
                    assert pool.poll() is None, "the journey ended before every fault was made"
                    assert _unfinished(app) > 0
                    # the API recovers by itself: its first requests after the fault succeed
                    assert http.get("/readyz").status_code == 200
                    assert http.get(metrics_path).status_code == 200
                out, err = pool.communicate(timeout=180)
            assert pool.returncode == 0, err.decode()[-3000:]
            report = json.loads(out)
            assert faults == ["fast", "statement-timeout", "immediate"]
            # the faults reached the workers, which retried rather than dying (or were restarted)
            assert sum(p.get("DbErrors", 0) for p in report["Processes"]) + report["Restarts"] > 0

            handed = harness.assert_everyone_finished_and_each_message_sent_once(
                app, users, pressed
            )
            metrics = journeys.metrics(app, app_id, journey_id)["Metrics"]
            assert int(metrics["ENDPOINT_ENTERED"]) == USERS
            assert int(metrics["ENDPOINT_FINISHED"]) == USERS
            assert int(metrics["SENT"]) == len(handed) == sum(handed.values())
        finally:
            if pool is not None:
                harness.stop_pool(pool)
            app.close()
