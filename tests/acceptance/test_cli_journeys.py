"""The journey commands as a person runs them: a subprocess per command, JSON out."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cli_process import run_renraku

from renraku.app import build_app
from renraku.domain.endpoints import Endpoint
from renraku.settings import ClockSettings, Settings
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store
from renraku.store import templates as template_store

JOURNEY_YAML = """
Name: remind by SMS then email
StartCondition:
  SegmentStartCondition: {SegmentId: customers}
StartActivity: sms
Activities:
  sms:
    SMS: {TemplateName: remind, NextActivity: pause}
  pause:
    Wait: {WaitTime: {WaitFor: 2h}, NextActivity: email}
  email:
    EMAIL: {TemplateName: remind-mail, NextActivity: done}
  done:
    End: {}
"""


def _run(env: dict[str, str], *args: str, ok: bool = True) -> tuple[int, Any]:
    proc = run_renraku([*args, "--json"], cwd=os.getcwd(), env=env, timeout=120)
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else None


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    settings = Settings(
        db=url, clock=ClockSettings(mode="virtual", virtual_start="2026-06-01T10:00:00Z")
    )
    app = build_app(settings)
    now = app.now_iso()
    with app.store.begin() as conn:
        app_id = app_store.create_app(conn, "cli", now=now)["Id"]
        eps = [
            Endpoint(
                app_id=app_id,
                id=f"{u}-{ch}",
                channel_type=ch,
                address=addr,
                user_id=u,
                creation_date=now,
                effective_date=now,
            )
            for u, n in (("alice", 1), ("bob", 2))
            for ch, addr in (("SMS", f"+1202555010{n}"), ("EMAIL", f"{u}@example.com"))
        ]
        endpoint_store.upsert_many(conn, eps)
        seg = segment_store.import_segment_for(
            conn, app_id, "customers", now=now, import_definition={}
        )
        segment_store.add_members(conn, app_id, seg, [e.id for e in eps])
        template_store.put(conn, app_id, "remind", "SMS", {"Body": "Hi"}, now=now)
        template_store.put(
            conn, app_id, "remind-mail", "EMAIL", {"Subject": "Hi", "TextPart": "Hi"}, now=now
        )
    app.close()
    return {
        **os.environ,
        "RENRAKU_DB": url,
        "RENRAKU_CLOCK__MODE": "virtual",
        "RENRAKU_JOURNEYS__RECORD_CHANNELS": '["SMS","EMAIL"]',
    }


def test_cli_creates_publishes_runs_and_reports_a_yaml_journey_on_the_virtual_clock(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text(JOURNEY_YAML)
    _, valid = _run(env, "journeys", "validate", str(path))
    assert valid == {"Valid": True, "Problems": []}
    _, created = _run(env, "journeys", "create", str(path), "--publish")
    assert created["State"] == "ACTIVE"
    jid = created["Id"]
    _, run = _run(env, "worker", "--run-for", "1h")
    assert run["Sends"] == 2
    _, waiting = _run(env, "journeys", "participants", jid, "--activity", "pause")
    assert sorted(p["UserId"] for p in waiting["Item"]) == ["alice", "bob"]
    _, clock = _run(env, "clock", "advance", "30m")
    assert clock["Now"] == "2026-06-01T11:30:00.000Z"
    _, run = _run(env, "worker", "--until-idle")
    assert run["Sends"] == 0  # the 2 h wait is not over yet
    _, run = _run(env, "worker", "--run-for", "1h")
    assert run["Sends"] == 2
    _, metrics = _run(env, "journeys", "metrics", jid)
    assert metrics["Metrics"]["ENDPOINT_ENTERED"] == "2"
    assert metrics["Metrics"]["SENT"] == "4"
    by_activity = {a["JourneyActivityId"]: a["Metrics"] for a in metrics["Activities"]}
    assert by_activity["email"]["SUCCESS"] == "2"
    _, shown = _run(env, "journeys", "show", jid)
    assert shown["State"] == "COMPLETED"
    _, timeline = _run(env, "timeline", "alice")
    kinds = [e["Kind"] for e in timeline["Events"]]
    assert kinds[0] == "journey.entered"
    assert kinds.count("send.sent") == 2
    assert "journey.finished" in kinds


def test_cli_rejects_an_invalid_journey_listing_every_problem_by_path(
    env: dict[str, str], tmp_path: Path
) -> None:
    bad = JOURNEY_YAML.replace("NextActivity: pause", "NextActivity: nowhere").replace(
        "TemplateName: remind-mail", "TemplateName: missing"
    )
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    code, body = _run(env, "journeys", "validate", str(path), ok=False)
    assert code == 3
    problems = {(p["path"], p["message"]) for p in body["error"]["problems"]}
    assert ("Activities.sms.SMS", "Next goes to missing activity 'nowhere'") in problems
    assert ("Activities.pause", "unreachable from StartActivity") in problems
    assert ("Activities.email.EMAIL.TemplateName", "no EMAIL template named 'missing'") in problems


def test_cli_events_start_a_journey_and_pause_and_cancel_hold_and_end_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    journey = {
        "Name": "welcome",
        "StartCondition": {
            "EventStartCondition": {
                "EventFilter": {
                    "FilterType": "ENDPOINT",
                    "Dimensions": {
                        "EventType": {"DimensionType": "INCLUSIVE", "Values": ["signed_up"]}
                    },
                }
            }
        },
        "StartActivity": "later",
        "Activities": {
            "later": {"Wait": {"WaitTime": {"WaitFor": "PT1H"}, "NextActivity": "hello"}},
            "hello": {"EMAIL": {"TemplateName": "remind-mail"}},
        },
    }
    path = tmp_path / "welcome.json"
    path.write_text(json.dumps(journey))
    _, created = _run(env, "journeys", "create", str(path), "--publish")
    jid = created["Id"]
    batch = json.dumps(
        [
            {"UserId": "bob", "EventType": "signed_up"},
            {"UserId": "alice", "EventType": "logged_in"},
        ]
    )
    _, put = _run(env, "events", "put", "--batch", batch)
    assert put["Entered"] == 1
    _run(env, "journeys", "pause", jid)
    _, run = _run(env, "worker", "--run-for", "3h")
    assert run["Sends"] == 0
    _, cancelled = _run(env, "journeys", "cancel", jid)
    assert cancelled["State"] == "CANCELLED"
    _, people = _run(env, "journeys", "participants", jid, "--status", "CANCELLED")
    assert [p["UserId"] for p in people["Item"]] == ["bob"]
    code, _ = _run(env, "journeys", "resume", jid, ok=False)
    assert code == 5


def test_cli_deletes_a_running_journey_with_its_participants_and_sends(
    env: dict[str, str], tmp_path: Path
) -> None:
    from sqlalchemy import func, select

    from renraku.store.journeys import journey_versions
    from renraku.store.participants import participants
    from renraku.store.sends import sends

    path = tmp_path / "journey.yaml"
    path.write_text(JOURNEY_YAML)
    _, kept = _run(env, "journeys", "create", str(path))
    _, created = _run(env, "journeys", "create", str(path), "--publish")
    jid = created["Id"]
    _, run = _run(env, "worker", "--run-for", "1h")
    assert run["Sends"] == 2
    _, deleted = _run(env, "journeys", "delete", jid, "--yes")
    assert (deleted["Id"], deleted["State"]) == (jid, "ACTIVE")
    code, _ = _run(env, "journeys", "show", jid, ok=False)
    assert code != 0
    _, listed = _run(env, "journeys", "list")
    assert [j["Id"] for j in listed["Item"]] == [kept["Id"]]
    app = build_app(Settings(db=env["RENRAKU_DB"]))
    try:
        with app.store.connect() as conn:
            for table in (participants, sends):
                left = select(func.count()).where(table.c.journey_id == jid)
                assert conn.execute(left).scalar() == 0, table.name
            versions = select(journey_versions.c.journey_id).distinct()
            assert [r[0] for r in conn.execute(versions)] == [kept["Id"]]
    finally:
        app.close()
    _, run = _run(env, "worker", "--run-for", "3h")
    assert run["Sends"] == 0  # the deleted journey's waiting participants never wake
