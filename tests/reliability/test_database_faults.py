"""PostgreSQL faults while two pooled workers run the seed journey and the API serves: the
workers' connections are cut again and again (pg_terminate_backend), and their statements hit a
statement timeout while a table is locked. Workers and the API recover by themselves; nobody is
lost, nobody gets a message twice.

(Restarting the PostgreSQL server itself would disturb every other test on the shared server:
test_postgres_restart.py does it to a private cluster.)
"""

from __future__ import annotations

import json
import random
import time
import uuid

import httpx
from api_support import live_server
from harness import (
    assert_everyone_finished_and_each_message_sent_once,
    renraku,
    seed_journey,
    stop_pool,
    worker_env,
)
from journey_helpers import journey_app
from sqlalchemy import create_engine, text

from renraku.services import journeys
from renraku.store.engine import normalise_url

START = "2026-03-05T01:00:00.000Z"
USERS = 300
ROUNDS = 15


def _named(url: str, name: str, *options: str) -> str:
    """``url`` whose connections carry application_name ``name`` and extra server options."""
    extra = "".join(f"%20-c{o.replace('=', '%3D')}" for o in options)
    assert "options=" in url
    return url + extra + f"&application_name={name}"


def test_cut_connections_and_statement_timeouts_lose_no_participant_and_duplicate_no_send(
    pg_url: str,
) -> None:
    rng = random.Random(11)
    tag = "rel" + uuid.uuid4().hex[:8]
    app = journey_app(_named(pg_url, tag + "api"), start=START)
    admin = create_engine(normalise_url(pg_url), isolation_level="AUTOCOMMIT")
    locker = create_engine(normalise_url(pg_url))
    pool = None
    try:
        app_id, journey_id, users, pressed = seed_journey(app, USERS)
        env = worker_env(_named(pg_url, tag + "wrk", "statement_timeout=400"), START)
        pool = renraku(
            ["worker", "--processes", "2", "--run-for", "1d", "--batch-size", "2", "--json"], env
        )
        cuts = timeouts = api_checks = 0
        with live_server(app) as base, httpx.Client(base_url=base, timeout=10) as http:
            for round_ in range(ROUNDS):
                if pool.poll() is not None:
                    break
                time.sleep(rng.uniform(0.1, 0.4))
                with admin.connect() as conn:
                    if round_ % 5 == 2:
                        # a long lock: the workers' statements wait past their statement timeout
                        with locker.begin() as held:
                            held.execute(text("LOCK TABLE participants IN ACCESS EXCLUSIVE MODE"))
                            time.sleep(0.8)
                        timeouts += 1
                    cut = conn.execute(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name LIKE :tag AND pid <> pg_backend_pid()"
                        ),
                        {"tag": tag + "%"},
                    ).scalar_one()
                    cuts += int(cut)
                # the API recovers by itself: the cut connections are replaced on the next request
                assert http.get("/readyz").status_code == 200
                api_checks += 1
            out, err = pool.communicate(timeout=120)
        assert pool.returncode == 0, (out.decode()[-3000:], err.decode()[-3000:])
        report = json.loads(out)
        assert cuts >= ROUNDS  # at least one backend cut per round
        assert timeouts == 3
        assert api_checks == ROUNDS

        handed = assert_everyone_finished_and_each_message_sent_once(app, users, pressed)
        metrics = journeys.metrics(app, app_id, journey_id)["Metrics"]
        assert int(metrics["ENDPOINT_ENTERED"]) == USERS
        assert int(metrics["SENT"]) == len(handed)
        # the faults reached the workers, which retried rather than dying (or were restarted)
        assert sum(p.get("DbErrors", 0) for p in report["Processes"]) + report["Restarts"] > 0
    finally:
        if pool is not None:
            stop_pool(pool)
        locker.dispose()
        admin.dispose()
        app.close()
