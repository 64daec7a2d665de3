"""RefreshOnSegmentUpdate: a change to the journey's segment (an import into it, endpoints updated
through the API, a new version of a dimensional segment) admits newly matching members without
waiting for RefreshFrequency, subject to the re-entry rules; without it nothing happens early."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from journey_helpers import delivered, journey_app

from renraku.app import App
from renraku.engine import entry
from renraku.engine.worker import Worker
from renraku.services import endpoint_batch, journeys, segments
from renraku.services import endpoints as endpoint_service
from renraku.services import imports as import_service
from renraku.services.imports import ImportOptions
from renraku.store import apps as app_store
from renraku.store import templates as template_store

START = "2026-03-05T01:00:00.000Z"
HEADER = "Id,ChannelType,Address,User.UserId,Attributes.Tier\n"


def _journey(segment: str, *, refresh_on_update: bool) -> dict[str, Any]:
    return {
        "Name": f"welcome {segment}",
        "StartCondition": {"SegmentStartCondition": {"SegmentId": segment}},
        "StartActivity": "sms",
        "Activities": {"sms": {"SMS": {"TemplateName": "hello"}}},
        "RefreshOnSegmentUpdate": refresh_on_update,
        "State": "ACTIVE",
    }


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    built = journey_app(db_url, start=START)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def app_id(app: App) -> str:
    with app.store.begin() as conn:
        created = str(app_store.create_app(conn, "refresh", now=app.now_iso())["Id"])
        template_store.put(conn, created, "hello", "SMS", {"Body": "Hello."}, now=app.now_iso())
    return created


def _row(n: int, tier: str = "") -> str:
    return f"U{n}-SMS,SMS,+8190111100{n}{n},U{n},{tier}"


def _import(app: App, app_id: str, tmp_path: Path, name: str, rows: list[str]) -> None:
    source = tmp_path / f"{name}.csv"
    source.write_text(HEADER + "".join(f"{r}\n" for r in rows))
    options = ImportOptions(source=str(source), format="CSV", segment_name="people")
    job = import_service.run_import(app, app_id, options)
    assert (job["JobStatus"], job["TotalFailures"]) == ("COMPLETED", 0), job["Failures"]


def _sms_users(app: App) -> list[str]:
    return sorted(r.endpoint_id.removesuffix("-SMS") for r in delivered(app, "SMS"))


def _state(app: App, app_id: str, jid: str) -> str:
    return str(journeys.show(app, app_id, jid)["State"])


def test_an_import_into_the_segment_admits_the_new_members_a_minute_later(
    app: App, app_id: str, tmp_path: Path
) -> None:
    _import(app, app_id, tmp_path, "first", [_row(1), _row(2)])
    jid = journeys.create(app, app_id, _journey("people", refresh_on_update=True))["Id"]
    worker = Worker(app)
    worker.run_for(timedelta(hours=1))
    assert _sms_users(app) == ["U1", "U2"]
    assert _state(app, app_id, jid) == "ACTIVE"  # it may still admit people
    imported_at = app.clock.now()
    _import(app, app_id, tmp_path, "second", [_row(3)])
    worker.run_for(timedelta(minutes=5))
    assert _sms_users(app) == ["U1", "U2", "U3"]
    entered = {p["UserId"]: p["EnteredAt"] for p in journeys.participants(app, app_id, jid)}
    assert entered["U3"] == (imported_at + entry.SEGMENT_UPDATE_DELAY).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    assert {p["Entry"] for p in journeys.participants(app, app_id, jid)} == {1}  # no re-entry


def test_without_refresh_on_update_an_import_waits_and_the_journey_completes(
    app: App, app_id: str, tmp_path: Path
) -> None:
    _import(app, app_id, tmp_path, "first", [_row(1)])
    jid = journeys.create(app, app_id, _journey("people", refresh_on_update=False))["Id"]
    worker = Worker(app)
    worker.run_for(timedelta(hours=1))
    assert _state(app, app_id, jid) == "COMPLETED"
    _import(app, app_id, tmp_path, "second", [_row(2)])
    worker.run_for(timedelta(hours=1))
    assert _sms_users(app) == ["U1"]


def test_changes_made_while_paused_are_picked_up_on_resume(
    app: App, app_id: str, tmp_path: Path
) -> None:
    _import(app, app_id, tmp_path, "first", [_row(1)])
    jid = journeys.create(app, app_id, _journey("people", refresh_on_update=True))["Id"]
    worker = Worker(app)
    worker.run_for(timedelta(hours=1))
    journeys.pause(app, app_id, jid)
    _import(app, app_id, tmp_path, "second", [_row(2)])
    worker.run_for(timedelta(hours=1))
    assert _sms_users(app) == ["U1"]  # paused: nobody enters
    journeys.resume(app, app_id, jid)
    worker.run_for(timedelta(seconds=1))
    assert _sms_users(app) == ["U1", "U2"]


def test_endpoint_updates_and_a_new_segment_version_admit_new_members_but_not_finished_ones(
    app: App, app_id: str, tmp_path: Path
) -> None:
    _import(
        app, app_id, tmp_path, "people", [_row(1, "GOLD"), _row(2, "BRONZE"), _row(3, "SILVER")]
    )
    tier = {"Attributes": {"Tier": {"AttributeType": "INCLUSIVE", "Values": ["GOLD"]}}}
    segments.create(app, app_id, "gold", definition={"Dimensions": tier})
    jid = journeys.create(app, app_id, _journey("gold", refresh_on_update=True))["Id"]
    worker = Worker(app)
    worker.run_for(timedelta(hours=1))
    assert _sms_users(app) == ["U1"]
    # Through the API: U2 becomes GOLD; U1 (finished, no re-entry allowed) is touched too.
    endpoint_service.update_endpoint(app, app_id, "U2-SMS", {"Attributes": {"Tier": ["GOLD"]}})
    endpoint_batch.update_endpoints_batch(
        app, app_id, [{"Id": "U1-SMS", "Attributes": {"Tier": ["GOLD"], "Note": ["again"]}}]
    )
    worker.run_for(timedelta(minutes=5))
    assert _sms_users(app) == ["U1", "U2"]
    # A new version of the segment takes SILVER in too.
    tier["Attributes"]["Tier"]["Values"] = ["GOLD", "SILVER"]
    segments.update(app, app_id, "gold", definition={"Dimensions": tier})
    worker.run_for(timedelta(minutes=5))
    assert _sms_users(app) == ["U1", "U2", "U3"]
    assert _state(app, app_id, jid) == "ACTIVE"


def test_a_change_to_an_unrelated_segment_does_not_bring_the_entry_forward(
    app: App, app_id: str, tmp_path: Path
) -> None:
    _import(app, app_id, tmp_path, "people", [_row(1, "GOLD")])
    gold = {"Attributes": {"Tier": {"AttributeType": "INCLUSIVE", "Values": ["GOLD"]}}}
    segments.create(app, app_id, "gold", definition={"Dimensions": gold})
    segments.create(app, app_id, "other", definition={"Dimensions": gold})
    journeys.create(app, app_id, _journey("gold", refresh_on_update=True))
    Worker(app).run_for(timedelta(hours=1))
    with app.store.begin() as conn:
        now = app.now_iso()
        other_id = str(segments.require(app, app_id, "other")["Id"])
        assert entry.segment_changed(conn, app_id, now, segment_id=other_id) == 0
        gold_id = str(segments.require(app, app_id, "gold")["Id"])
        assert entry.segment_changed(conn, app_id, now, segment_id=gold_id) == 1
        # Already due within the minute: a second change adds nothing.
        assert entry.segment_changed(conn, app_id, now) == 0
