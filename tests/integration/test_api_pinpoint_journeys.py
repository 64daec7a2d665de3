"""Journeys, templates and events over the Pinpoint routes, with boto3 against a live server."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import (
    ShapeChecker,
    admin_key,
    app_key,
    live_server,
    make_app,
    pinpoint_client,
)
from botocore.exceptions import ClientError

from renraku.app import App
from renraku.store import events as event_store

SEED_JOURNEY = Path(__file__).resolve().parents[2] / "examples" / "seed-journey.json"
SEED_CSV = (
    "Channel,Address,User.UserID,Attributes.CallStatus,Attributes.Index\n"
    "CUSTOM,+819011111111,User1,Pending,User1-Custom\n"
    "SMS,+819011111111,User1,Pending,User1-SMS\n"
    "EMAIL,test@example.com,User1,Pending,User1-EMAIL\n"
)


def pinpoint_journey() -> dict[str, Any]:
    """The seed's journey in Pinpoint's own vocabulary (no renraku End activity)."""
    journey: dict[str, Any] = json.loads(SEED_JOURNEY.read_text(encoding="utf-8"))
    journey = copy.deepcopy(journey)
    del journey["Activities"]["done"]
    for activity in journey["Activities"].values():
        for body in activity.values():
            if isinstance(body, dict):
                for link in ("NextActivity", "FalseActivity"):
                    if body.get(link) == "done":
                        del body[link]
    return journey


@pytest.fixture
def url_for(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Both dialects for tests that ask for ``db_url`` (they exercise the store); SQLite for the
    dialect-free checks."""
    if "db_url" in request.fixturenames:
        return str(request.getfixturevalue("db_url"))
    return sqlite_url


@pytest.fixture
def server(url_for: str, tmp_path: Path) -> Iterator[tuple[App, str, Path]]:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "seed.csv").write_text(SEED_CSV, encoding="utf-8")
    app = make_app(url_for, tmp_path, import_file_roots=[str(lists)])
    try:
        with live_server(app) as url:
            yield app, url, lists
    finally:
        app.close()


@pytest.fixture
def checker() -> ShapeChecker:
    return ShapeChecker()


@pytest.fixture
def seeded(server: tuple[App, str, Path], checker: ShapeChecker) -> tuple[Any, str]:
    """An application with the seed's list, segments and templates; returns (client, app id)."""
    app, url, lists = server
    client = pinpoint_client(url, admin_key(app), checker=checker)
    app_id = client.create_app(CreateApplicationRequest={"Name": "seed"})["ApplicationResponse"][
        "Id"
    ]
    client.create_import_job(
        ApplicationId=app_id,
        ImportJobRequest={
            "S3Url": (lists / "seed.csv").as_uri(),
            "Format": "CSV",
            "RoleArn": "arn:aws:iam::000000000000:role/unused",
            "DefineSegment": True,
            "SegmentName": "seed-customers",
        },
    )
    client.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "seed-pending-email",
            "Dimensions": {
                "Demographic": {"Channel": {"DimensionType": "INCLUSIVE", "Values": ["EMAIL"]}},
                "Attributes": {"CallStatus": {"AttributeType": "INCLUSIVE", "Values": ["Pending"]}},
            },
        },
    )
    return client, app_id


def test_the_seed_journey_is_created_published_and_reports_metrics_in_pinpoint_shapes(
    db_url: str, seeded: tuple[Any, str], checker: ShapeChecker
) -> None:
    client, app_id = seeded
    client.create_sms_template(
        TemplateName="seed-sms", SMSTemplateRequest={"Body": "Hello {{User.UserId}}"}
    )
    client.create_email_template(
        TemplateName="seed-email",
        EmailTemplateRequest={"Subject": "Details", "TextPart": "Hello", "HtmlPart": "<p>Hi</p>"},
    )
    created = client.create_journey(ApplicationId=app_id, WriteJourneyRequest=pinpoint_journey())
    journey = created["JourneyResponse"]
    assert journey["State"] == "DRAFT"
    assert journey["StartActivity"] == "call"
    published = client.update_journey_state(
        ApplicationId=app_id, JourneyId=journey["Id"], JourneyStateRequest={"State": "ACTIVE"}
    )["JourneyResponse"]
    assert published["State"] == "ACTIVE"
    paused = client.update_journey_state(
        ApplicationId=app_id, JourneyId=journey["Id"], JourneyStateRequest={"State": "PAUSED"}
    )["JourneyResponse"]
    assert paused["State"] == "PAUSED"
    metrics = client.get_journey_execution_metrics(ApplicationId=app_id, JourneyId=journey["Id"])
    assert metrics["JourneyExecutionMetricsResponse"]["JourneyId"] == journey["Id"]
    assert "ENDPOINT_ACTIVE" in metrics["JourneyExecutionMetricsResponse"]["Metrics"]
    activity = client.get_journey_execution_activity_metrics(
        ApplicationId=app_id, JourneyId=journey["Id"], JourneyActivityId="call"
    )["JourneyExecutionActivityMetricsResponse"]
    assert activity["ActivityType"] == "CUSTOM"
    listed = client.list_journeys(ApplicationId=app_id)["JourneysResponse"]["Item"]
    assert [j["Id"] for j in listed] == [journey["Id"]]
    assert (
        client.get_journey(ApplicationId=app_id, JourneyId=journey["Id"])["JourneyResponse"][
            "State"
        ]
        == "PAUSED"
    )
    assert checker.problems == []


def test_publishing_a_journey_whose_templates_are_missing_is_refused_naming_them(
    seeded: tuple[Any, str],
) -> None:
    client, app_id = seeded
    journey = client.create_journey(ApplicationId=app_id, WriteJourneyRequest=pinpoint_journey())
    with pytest.raises(ClientError) as exc:
        client.update_journey_state(
            ApplicationId=app_id,
            JourneyId=journey["JourneyResponse"]["Id"],
            JourneyStateRequest={"State": "ACTIVE"},
        )
    assert exc.value.response["Error"]["Code"] == "BadRequestException"
    assert "seed-sms" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        client.update_journey_state(
            ApplicationId=app_id,
            JourneyId=journey["JourneyResponse"]["Id"],
            JourneyStateRequest={"State": "SIDEWAYS"},
        )
    assert "JourneyStateRequest.State" in exc.value.response["Error"]["Message"]


def test_templates_are_created_read_updated_and_deleted_within_the_keys_application(
    server: tuple[App, str, Path], checker: ShapeChecker
) -> None:
    app, url, _ = server
    admin = pinpoint_client(url, admin_key(app))
    a = admin.create_app(CreateApplicationRequest={"Name": "A"})["ApplicationResponse"]["Id"]
    b = admin.create_app(CreateApplicationRequest={"Name": "B"})["ApplicationResponse"]["Id"]
    client_a = pinpoint_client(url, app_key(app, a), checker=checker)
    client_b = pinpoint_client(url, app_key(app, b), checker=checker)
    client_a.create_sms_template(TemplateName="remind", SMSTemplateRequest={"Body": "A says hi"})
    with pytest.raises(ClientError) as exc:
        client_a.create_sms_template(TemplateName="remind", SMSTemplateRequest={"Body": "again"})
    assert exc.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as exc:
        client_b.get_sms_template(TemplateName="remind")
    assert exc.value.response["Error"]["Code"] == "NotFoundException"
    client_a.update_sms_template(TemplateName="remind", SMSTemplateRequest={"Body": "A v2"})
    got = client_a.get_sms_template(TemplateName="remind")["SMSTemplateResponse"]
    assert got["Body"] == "A v2"
    assert got["TemplateType"] == "SMS"
    client_a.delete_sms_template(TemplateName="remind")
    with pytest.raises(ClientError) as exc:
        client_a.get_sms_template(TemplateName="remind")
    assert exc.value.response["Error"]["Code"] == "NotFoundException"
    assert checker.problems == []


def test_put_events_records_each_event_and_reports_unknown_endpoints_per_item(
    server: tuple[App, str, Path], seeded: tuple[Any, str]
) -> None:
    app, _, _ = server
    client, app_id = seeded
    [email] = [
        e
        for e in client.get_user_endpoints(ApplicationId=app_id, UserId="User1")[
            "EndpointsResponse"
        ]["Item"]
        if e["ChannelType"] == "EMAIL"
    ]
    response = client.put_events(
        ApplicationId=app_id,
        EventsRequest={
            "BatchItem": {
                email["Id"]: {
                    "Endpoint": {},
                    "Events": {
                        "ev1": {"EventType": "call.answered", "Timestamp": "2026-11-26T00:00:00Z"}
                    },
                },
                "nobody": {
                    "Endpoint": {},
                    "Events": {"ev2": {"EventType": "x", "Timestamp": "2026-11-26T00:00:00Z"}},
                },
            }
        },
    )["EventsResponse"]["Results"]
    assert response[email["Id"]]["EventsItemResponse"]["ev1"]["StatusCode"] == 202
    assert response["nobody"]["EventsItemResponse"]["ev2"]["StatusCode"] == 404
    with app.store.connect() as conn:
        recorded = event_store.timeline(conn, app_id, endpoint_ids=[email["Id"]])
    assert any(e["Data"]["EventType"] == "call.answered" for e in recorded)


def test_delete_journey_removes_a_running_journey_and_only_its_rows(
    db_url: str, server: tuple[App, str, Path], seeded: tuple[Any, str], checker: ShapeChecker
) -> None:
    from sqlalchemy import func, select

    from renraku.store.journeys import journey_versions
    from renraku.store.participants import participants
    from renraku.store.sends import sends

    app, url, _ = server
    client, app_id = seeded
    # Different names: two identical requests signed in the same second would be a replay.
    ids = [
        client.create_journey(
            ApplicationId=app_id, WriteJourneyRequest={**pinpoint_journey(), "Name": name}
        )["JourneyResponse"]["Id"]
        for name in ("deleted", "kept")
    ]
    gone, kept = ids
    client.create_sms_template(TemplateName="seed-sms", SMSTemplateRequest={"Body": "Hi"})
    client.create_email_template(
        TemplateName="seed-email", EmailTemplateRequest={"Subject": "S", "TextPart": "T"}
    )
    client.update_journey_state(
        ApplicationId=app_id, JourneyId=gone, JourneyStateRequest={"State": "ACTIVE"}
    )
    now = app.now_iso()
    with app.store.begin() as conn:
        for jid in ids:
            conn.execute(
                participants.insert().values(
                    app_id=app_id, journey_id=jid, pkey="User1", user_id="User1", version=1,
                    entry=1, activity_id="call", phase="wait", status="ACTIVE", wake_at=now,
                    attempt=0, entered_at=now, activity_at=now, data={},
                )
            )  # fmt: skip
            conn.execute(
                sends.insert().values(
                    key=f"{jid}/User1/call", app_id=app_id, journey_id=jid, pkey="User1",
                    user_id="User1", activity_id="call", endpoint_id="User1-Custom",
                    channel="CUSTOM", status="PENDING", tries=0, created_at=now, payload={},
                )
            )  # fmt: skip

    other_app = client.create_app(CreateApplicationRequest={"Name": "other"})
    outsider = pinpoint_client(url, app_key(app, other_app["ApplicationResponse"]["Id"]), retries=1)
    with pytest.raises(ClientError) as exc:
        outsider.delete_journey(ApplicationId=app_id, JourneyId=gone)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    deleted = client.delete_journey(ApplicationId=app_id, JourneyId=gone)["JourneyResponse"]
    assert (deleted["Id"], deleted["State"]) == (gone, "ACTIVE")
    assert "DeleteJourney" in checker.checked
    assert checker.problems == []
    with pytest.raises(ClientError) as exc:
        client.get_journey(ApplicationId=app_id, JourneyId=gone)
    assert exc.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as exc:
        client.delete_journey(ApplicationId=app_id, JourneyId="no-such-journey")
    assert exc.value.response["Error"]["Code"] == "NotFoundException"
    assert "no-such-journey" in exc.value.response["Error"]["Message"]
    listed = client.list_journeys(ApplicationId=app_id)["JourneysResponse"]["Item"]
    assert [j["Id"] for j in listed] == [kept]
    with app.store.connect() as conn:
        for table in (participants, sends, journey_versions):
            column = table.c.journey_id
            rows = conn.execute(select(column, func.count()).group_by(column))
            counts = {str(jid): int(n) for jid, n in rows}
            assert counts == {kept: 1}, table.name
