"""Two workers (``renraku worker --processes 2``) on PostgreSQL run the seed journey while a
harness sends SIGKILL to a random one of them at random moments; the pool restarts it. At the end
every participant finished, every message reached its provider exactly once, and the journey's
metrics agree with the ledger and the providers.

Each child dies after a random lifetime (mid-start or mid-batch); on a machine fast enough to
outrun those, a kill also falls due each time another 1/(kills + 1) of the deliveries has
happened, so every kill lands before the journey ends, however fast the machine.

CI size: RENRAKU_CRASH_USERS (default 600) users, RENRAKU_CRASH_KILLS (default 30) kills and
RENRAKU_CRASH_BATCH (default 1) participants per claim; the issue's full run (20,000 users) is
``python bench/crash_bench.py``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time

from harness import (
    assert_everyone_finished_and_each_message_sent_once,
    children,
    delivered,
    renraku,
    seed_journey,
    stop_pool,
    worker_env,
)
from journey_helpers import journey_app

from renraku.services import journeys

START = "2026-03-05T01:00:00.000Z"
USERS = int(os.environ.get("RENRAKU_CRASH_USERS", "600"))
KILLS = int(os.environ.get("RENRAKU_CRASH_KILLS", "30"))
BATCH = os.environ.get("RENRAKU_CRASH_BATCH", "1")  # one participant per claim in CI: a long run
# Seconds for the kills, and again for the rest of the run: generous, since the machine may be
# busy (a quiet one finishes the CI size in about a minute).
BUDGET = max(600.0, USERS * 0.1)


def test_killing_pool_workers_at_random_points_loses_nothing_and_sends_nothing_twice(
    pg_url: str,
) -> None:
    rng = random.Random(os.environ.get("RENRAKU_CRASH_SEED", "7"))
    app = journey_app(pg_url, start=START)
    pool = None
    try:
        app_id, journey_id, users, pressed = seed_journey(app, USERS)
        env = worker_env(pg_url, START)
        pool = renraku(
            ["worker", "--processes", "2", "--run-for", "1d", "--batch-size", BATCH, "--json"], env
        )
        kills = 0
        ripe_at: dict[int, float] = {}
        killed: set[int] = set()
        # deliveries in all: a call to everyone, SMS and email to those who did not press 1
        step = (USERS + 2 * (USERS - len(pressed))) / (KILLS + 1)
        deadline = time.monotonic() + BUDGET
        while kills < KILLS and pool.poll() is None and time.monotonic() < deadline:
            now = time.monotonic()
            live = [p for p in children(pool.pid) if p not in killed]
            for pid in live:  # each child dies after a random lifetime: mid-start or mid-batch
                ripe_at.setdefault(pid, now + rng.uniform(0.2, 1.2))
            ripe = [p for p in live if now >= ripe_at[p]]
            if live and delivered(app) >= (kills + 1) * step:
                ripe = live  # the journey is outrunning the kills
            if ripe:
                victim = rng.choice(ripe)
                os.kill(victim, signal.SIGKILL)
                killed.add(victim)
                kills += 1
            time.sleep(rng.uniform(0.01, 0.1))
        out, err = pool.communicate(timeout=BUDGET)
        assert pool.returncode == 0, err.decode()[-3000:]
        report = json.loads(out)
        assert kills >= KILLS, f"the journey finished after {kills} kills; raise the user count"
        assert report["Restarts"] == kills  # every killed child was replaced
        assert all(code == -signal.SIGKILL for code in report["CrashExitCodes"])

        handed = assert_everyone_finished_and_each_message_sent_once(app, users, pressed)
        metrics = journeys.metrics(app, app_id, journey_id)["Metrics"]
        assert int(metrics["SENT"]) == len(handed) == sum(handed.values())
        assert int(metrics["ENDPOINT_ENTERED"]) == USERS
        assert int(metrics["ENDPOINT_FINISHED"]) == USERS
        assert "FAILED" not in metrics
        assert "UNKNOWN" not in metrics
    finally:
        if pool is not None:
            stop_pool(pool)
        app.close()
