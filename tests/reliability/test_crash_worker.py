"""SIGKILL a worker process at random points of the seed journey on PostgreSQL, restart it, and
check that every participant finished and every message reached the provider exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from journey_helpers import journey_app, press_one, seed_customers, voice_seed_journey

from renraku.channels import recording
from renraku.services import journeys
from renraku.store.participants import participants
from renraku.store.sends import sends

START = "2026-03-05T01:00:00.000Z"
USERS = 30
KILLS = 6


def _worker(env: dict[str, str], *, errors: bool = False) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from renraku.cli import main; main()",
            "worker",
            "--run-for",
            "1d",
            "--batch-size",
            "2",
            "--json",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if errors else subprocess.DEVNULL,
    )


def test_killing_the_worker_at_random_points_loses_nothing_and_sends_nothing_twice(
    pg_url: str,
) -> None:
    rng = random.Random(os.environ.get("RENRAKU_CRASH_SEED", "7"))
    app = journey_app(pg_url, start=START)
    try:
        app_id, users = seed_customers(app, USERS)
        pressed = set(users[: USERS // 3])
        press_one(app, [f"+8190{i:08d}" for i in range(1, USERS // 3 + 1)])
        created = journeys.create(app, app_id, voice_seed_journey())
        journeys.publish(app, app_id, created["Id"])
        env = {
            **os.environ,
            "RENRAKU_DB": pg_url,
            "RENRAKU_CLOCK__MODE": "virtual",
            "RENRAKU_CLOCK__VIRTUAL_START": START,
            "RENRAKU_JOURNEYS__RECORD_CHANNELS": '["VOICE","SMS","EMAIL","CUSTOM"]',
            "RENRAKU_JOURNEYS__SEND_LEASE_SECONDS": "0.3",
        }

        def progress() -> int:
            with app.store.connect() as conn:
                return int(
                    conn.execute(select(func.count()).select_from(sends)).scalar_one()
                ) + int(
                    conn.execute(
                        select(func.count()).select_from(recording.recorded_deliveries)
                    ).scalar_one()
                )

        kills = 0
        deadline = time.monotonic() + 50
        while kills < KILLS and time.monotonic() < deadline:
            before = progress()
            child = _worker(env)
            while progress() == before and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.25))
            if child.poll() is not None:
                break  # the journey finished before this kill
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
        final = _worker(env, errors=True)
        _, err = final.communicate(timeout=120)
        assert final.returncode == 0, err.decode()

        assert kills >= 3
        with app.store.connect() as conn:
            statuses = [r[0] for r in conn.execute(select(participants.c.status))]
            ledger = {r.key: r.status for r in conn.execute(select(sends.c.key, sends.c.status))}
            handed = recording.delivery_counts(conn)
            by_channel = {
                ch: sorted(r.endpoint_id for r in recording.deliveries(conn, channel=ch))
                for ch in ("VOICE", "SMS", "EMAIL")
            }
        assert statuses == ["FINISHED"] * USERS
        assert set(ledger.values()) == {"sent"}
        assert handed == dict.fromkeys(ledger, 1)  # every send handed over exactly once
        assert by_channel["VOICE"] == sorted(f"{u}-VOICE" for u in users)
        assert by_channel["SMS"] == sorted(f"{u}-SMS" for u in users if u not in pressed)
        assert by_channel["EMAIL"] == sorted(f"{u}-EMAIL" for u in users if u not in pressed)
    finally:
        app.close()
