"""Two workers (``renraku worker --processes 2``) on PostgreSQL run the seed journey while a
harness sends SIGKILL to a random one of them at random moments; the pool restarts it. At the end
every participant finished, every message reached its provider exactly once, and the journey's
metrics agree with the ledger and the providers.

CI size: RENRAKU_CRASH_USERS (default 600) users and RENRAKU_CRASH_KILLS (default 30) kills; the
issue's full run is ``RENRAKU_CRASH_USERS=20000`` (see docs/scaling.md).
"""

from __future__ import annotations

import json
import os
import random
import signal
import time

from harness import children, renraku, worker_env
from journey_helpers import journey_app, press_one, seed_customers, voice_seed_journey
from sqlalchemy import func, select

from renraku.channels import recording
from renraku.services import journeys
from renraku.store.participants import participants
from renraku.store.sends import sends

START = "2026-03-05T01:00:00.000Z"
USERS = int(os.environ.get("RENRAKU_CRASH_USERS", "600"))
KILLS = int(os.environ.get("RENRAKU_CRASH_KILLS", "30"))


def test_killing_pool_workers_at_random_points_loses_nothing_and_sends_nothing_twice(
    pg_url: str,
) -> None:
    rng = random.Random(os.environ.get("RENRAKU_CRASH_SEED", "7"))
    app = journey_app(pg_url, start=START)
    pool = None
    try:
        app_id, users = seed_customers(app, USERS)
        pressed = set(users[: USERS // 3])
        press_one(app, [f"+8190{i:08d}" for i in range(1, USERS // 3 + 1)])
        created = journeys.create(app, app_id, voice_seed_journey())
        journeys.publish(app, app_id, created["Id"])
        env = worker_env(pg_url, START)
        pool = renraku(
            ["worker", "--processes", "2", "--run-for", "1d", "--batch-size", "1", "--json"], env
        )
        kills = 0
        ripe_at: dict[int, float] = {}
        killed: set[int] = set()
        deadline = time.monotonic() + 150
        while kills < KILLS and pool.poll() is None and time.monotonic() < deadline:
            now = time.monotonic()
            live = children(pool.pid)
            for pid in live:  # each child dies after a random lifetime: mid-start or mid-batch
                ripe_at.setdefault(pid, now + rng.uniform(0.2, 1.2))
            ripe = [p for p in live if now >= ripe_at[p] and p not in killed]
            if ripe:
                victim = rng.choice(ripe)
                os.kill(victim, signal.SIGKILL)
                killed.add(victim)
                kills += 1
            time.sleep(rng.uniform(0.02, 0.2))
        out, err = pool.communicate(timeout=180)
        assert pool.returncode == 0, err.decode()[-3000:]
        report = json.loads(out)
        assert kills >= KILLS, f"the journey finished after {kills} kills; raise the user count"
        assert report["Restarts"] == kills  # every killed child was replaced
        assert all(code == -signal.SIGKILL for code in report["CrashExitCodes"])

        with app.store.connect() as conn:
            statuses = [r[0] for r in conn.execute(select(participants.c.status))]
            ledger = {r.key: r.status for r in conn.execute(select(sends.c.key, sends.c.status))}
            handed = recording.delivery_counts(conn)
            by_channel = {
                ch: sorted(r.endpoint_id for r in recording.deliveries(conn, channel=ch))
                for ch in ("VOICE", "SMS", "EMAIL")
            }
            participant_rows = conn.execute(
                select(func.count()).select_from(participants)
            ).scalar_one()
        assert participant_rows == USERS  # nobody entered twice
        assert statuses == ["FINISHED"] * USERS
        assert set(ledger.values()) == {"sent"}
        assert handed == dict.fromkeys(ledger, 1)  # every send handed over exactly once
        assert by_channel["VOICE"] == sorted(f"{u}-VOICE" for u in users)
        assert by_channel["SMS"] == sorted(f"{u}-SMS" for u in users if u not in pressed)
        assert by_channel["EMAIL"] == sorted(f"{u}-EMAIL" for u in users if u not in pressed)

        metrics = journeys.metrics(app, app_id, created["Id"])["Metrics"]
        assert int(metrics["SENT"]) == len(ledger) == sum(handed.values())
        assert int(metrics["ENDPOINT_ENTERED"]) == USERS
        assert int(metrics["ENDPOINT_FINISHED"]) == USERS
        assert "FAILED" not in metrics
        assert "UNKNOWN" not in metrics
    finally:
        if pool is not None and pool.poll() is None:
            pool.kill()
            pool.communicate()
        app.close()
