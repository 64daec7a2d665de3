"""Shared pieces of the reliability suite: run ``renraku`` as a subprocess, find a pool's
children, seed the journey the fault tests run, and check what the recording providers were
handed at the end."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journey_helpers import press_one, seed_customers, voice_seed_journey
from sqlalchemy import func, select

from renraku.channels import recording
from renraku.services import journeys
from renraku.store.participants import participants
from renraku.store.sends import sends

if TYPE_CHECKING:
    from renraku.app import App

CLI = [sys.executable, "-c", "from renraku.cli import main; main()"]


def worker_env(db_url: str, start: str, **extra: str) -> dict[str, str]:
    """Environment of a worker on the virtual clock with every channel recorded."""
    return {
        **os.environ,
        "RENRAKU_DB": db_url,
        "RENRAKU_CLOCK__MODE": "virtual",
        "RENRAKU_CLOCK__VIRTUAL_START": start,
        "RENRAKU_JOURNEYS__RECORD_CHANNELS": '["VOICE","SMS","EMAIL","CUSTOM"]',
        "RENRAKU_JOURNEYS__SEND_LEASE_SECONDS": "0.3",
        "RENRAKU_JOURNEYS__IDLE_SLEEP_SECONDS": "0.05",
        **extra,
    }


def renraku(args: list[str], env: dict[str, str], **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw
    )


def children(pid: int) -> list[int]:
    """Live child process ids of ``pid`` (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    out = []
    for c in text.split():
        try:
            state = Path(f"/proc/{c}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            continue
        if state != "Z":
            out.append(int(c))
    return out


def stop_pool(pool: subprocess.Popen[bytes]) -> None:
    """Kill a ``renraku worker --processes N`` pool that is still running, children first (a
    child outliving its pool would keep the pool's output pipe open)."""
    if pool.poll() is None:
        for pid in children(pool.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        pool.kill()
    pool.communicate()


def seed_journey(
    app: App, users: int, limits: dict[str, Any] | None = None
) -> tuple[str, str, list[str], set[str]]:
    """``users`` customers, the first third of whom press 1, and the seed journey (call, SMS,
    email; with journey ``limits`` if given) published. Returns (app id, journey id, user ids,
    those who press 1)."""
    app_id, user_ids = seed_customers(app, users)
    press_one(app, [f"+8190{i:08d}" for i in range(1, users // 3 + 1)])
    definition = voice_seed_journey()
    if limits:
        definition["Limits"] = limits
    created = journeys.create(app, app_id, definition)
    journeys.publish(app, app_id, created["Id"])
    return app_id, created["Id"], user_ids, set(user_ids[: users // 3])


def assert_everyone_finished_and_each_message_sent_once(
    app: App, users: list[str], pressed: set[str]
) -> dict[str, int]:
    """Every participant FINISHED (none lost, none entered twice), every ledger row sent, each
    key handed to its provider exactly once, the call to everyone and SMS and email to those
    who did not press 1. Returns the deliveries by key."""
    with app.store.connect() as conn:
        statuses = [r[0] for r in conn.execute(select(participants.c.status))]
        ledger = {r.key: r.status for r in conn.execute(select(sends.c.key, sends.c.status))}
        handed = recording.delivery_counts(conn)
        by_channel = {
            ch: sorted(r.endpoint_id for r in recording.deliveries(conn, channel=ch))
            for ch in ("VOICE", "SMS", "EMAIL")
        }
    assert statuses == ["FINISHED"] * len(users)
    assert set(ledger.values()) == {"sent"}
    assert handed == dict.fromkeys(ledger, 1)
    assert by_channel["VOICE"] == sorted(f"{u}-VOICE" for u in users)
    assert by_channel["SMS"] == sorted(f"{u}-SMS" for u in users if u not in pressed)
    assert by_channel["EMAIL"] == sorted(f"{u}-EMAIL" for u in users if u not in pressed)
    return handed


def delivered(app: App) -> int:
    """How many deliveries the recording providers have taken so far."""
    with app.store.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(recording.recorded_deliveries)
            ).scalar_one()
        )
