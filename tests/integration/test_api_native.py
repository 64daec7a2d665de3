"""The native API: health, metrics, problem details, CRUD over the services, isolation, and the
committed OpenAPI document matching the served one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import admin_key, app_key, bearer, live_server, make_app

from renraku.app import App
from renraku.store import endpoints as endpoint_store

REPO = Path(__file__).resolve().parents[2]
SEED_CSV = (
    "Channel,Address,User.UserID,Attributes.CallStatus,Attributes.Index\n"
    "CUSTOM,+819011111111,User1,Pending,User1-Custom\n"
    "SMS,+819011111111,User1,Pending,User1-SMS\n"
    "EMAIL,test@example.com,User1,Pending,User1-EMAIL\n"
)
SIMPLE_JOURNEY = {
    "Name": "simple",
    "StartCondition": {
        "EventStartCondition": {
            "EventFilter": {
                "FilterType": "ENDPOINT",
                "Dimensions": {
                    "EventType": {"DimensionType": "INCLUSIVE", "Values": ["signed-up"]}
                },
            }
        }
    },
    "StartActivity": "wait",
    "Activities": {"wait": {"Wait": {"WaitTime": {"WaitFor": "PT1H"}}}},
}


class Api:
    """A small client for one live server and one key."""

    def __init__(self, url: str, key: dict[str, Any]) -> None:
        self.http = httpx.Client(base_url=url, headers=bearer(key), timeout=30)

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def url_for(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Both dialects for tests that ask for ``db_url`` (they exercise the store); SQLite for the
    dialect-free checks."""
    if "db_url" in request.fixturenames:
        return str(request.getfixturevalue("db_url"))
    return sqlite_url


@pytest.fixture
def server(url_for: str, tmp_path: Path) -> Iterator[tuple[App, str]]:
    app = make_app(url_for, tmp_path)
    try:
        with live_server(app) as url:
            yield app, url
    finally:
        app.close()


@pytest.fixture
def admin(server: tuple[App, str]) -> Iterator[Api]:
    app, url = server
    client = Api(url, admin_key(app))
    yield client
    client.close()


def _app(admin: Api, name: str = "native") -> str:
    response = admin("POST", "/api/v1/apps", json={"Name": name})
    assert response.status_code == 201
    return str(response.json()["Id"])


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    return body


def test_the_committed_openapi_document_is_the_served_one(admin: Api) -> None:
    served = admin("GET", "/api/v1/openapi.json").json()
    committed = json.loads((REPO / "openapi.json").read_text(encoding="utf-8"))
    assert served == committed, "regenerate with: renraku serve --print-openapi > openapi.json"


def test_metrics_count_requests_by_route_template_not_raw_path(admin: Api) -> None:
    app_id = _app(admin)
    admin("GET", f"/api/v1/apps/{app_id}/endpoints/nope")
    text = admin("GET", "/metrics").text
    assert 'route="/api/v1/apps/{app_id}/endpoints/{endpoint_id}",status="404"' in text
    assert app_id not in text
    assert "renraku_http_request_duration_seconds_bucket" in text
    assert "renraku_journey_queue_depth 0.0" in text


def test_metrics_report_journeys_by_state(admin: Api) -> None:
    app_id = _app(admin)
    admin("POST", f"/api/v1/apps/{app_id}/journeys", json=SIMPLE_JOURNEY)
    text = admin("GET", "/metrics").text
    assert 'renraku_journeys{status="DRAFT"} 1.0' in text


def test_endpoints_and_users_round_trip_in_pinpoint_json(db_url: str, admin: Api) -> None:
    app_id = _app(admin)
    put = admin(
        "PUT",
        f"/api/v1/apps/{app_id}/endpoints/e1",
        json={
            "ChannelType": "EMAIL",
            "Address": "a@example.com",
            "User": {"UserId": "u1"},
            "Attributes": {"CallStatus": ["Pending"]},
        },
    )
    assert put.status_code == 200
    assert put.json()["Attributes"] == {"CallStatus": ["Pending"]}
    batch = admin(
        "PUT",
        f"/api/v1/apps/{app_id}/endpoints",
        json={
            "Item": [
                {
                    "Id": "e2",
                    "ChannelType": "SMS",
                    "Address": "+819011111111",
                    "User": {"UserId": "u1"},
                }
            ]
        },
    )
    assert batch.status_code == 200
    user = admin("GET", f"/api/v1/apps/{app_id}/users/u1").json()
    assert sorted(e["Id"] for e in user["Item"]) == ["e1", "e2"]
    assert admin("DELETE", f"/api/v1/apps/{app_id}/endpoints/e1").json()["Id"] == "e1"
    gone = admin("DELETE", f"/api/v1/apps/{app_id}/users/u1").json()
    assert [e["Id"] for e in gone["Item"]] == ["e2"]
    _problem(admin("GET", f"/api/v1/apps/{app_id}/users/u1"), 404)


def test_bad_input_gets_problem_details_naming_each_field_and_writes_nothing(
    db_url: str, server: tuple[App, str], admin: Api
) -> None:
    app, _ = server
    app_id = _app(admin)
    path = f"/api/v1/apps/{app_id}/endpoints/e1"
    malformed = _problem(
        admin(
            "PUT", path, content=b'{"ChannelType": ', headers={"content-type": "application/json"}
        ),
        400,
    )
    assert malformed["errors"]
    unknown = _problem(admin("PUT", path, json={"ChannelType": "SMS", "Colour": "red"}), 422)
    assert [e["path"] for e in unknown["errors"]] == ["body.Colour"]
    wrong = _problem(admin("PUT", path, json={"Attributes": {"CallStatus": "Pending"}}), 422)
    assert wrong["errors"][0]["path"] == "body.Attributes.CallStatus"
    domain = _problem(
        admin("PUT", path, json={"ChannelType": "SMS", "Address": "not a phone"}), 422
    )
    assert any("Address" in e["path"] for e in domain["errors"])
    batch = _problem(
        admin(
            "PUT",
            f"/api/v1/apps/{app_id}/endpoints",
            json={
                "Item": [
                    {"Id": "ok", "ChannelType": "EMAIL", "Address": "a@example.com"},
                    {
                        "Id": "bad",
                        "ChannelType": "EMAIL",
                        "Address": "a@example.com",
                        "OptOut": "X",
                    },
                ]
            },
        ),
        422,
    )
    assert any(e["path"].startswith("Item[1]") for e in batch["errors"])
    _problem(admin("GET", "/api/v1/apps?token=forged"), 422)
    with app.store.connect() as conn:
        assert endpoint_store.count(conn, app_id) == 0


def test_an_application_key_reaches_only_its_application_on_the_native_api(
    db_url: str, server: tuple[App, str], admin: Api
) -> None:
    app, url = server
    a = _app(admin, "A")
    b = _app(admin, "B")
    admin(
        "PUT",
        f"/api/v1/apps/{b}/endpoints/e1",
        json={"ChannelType": "EMAIL", "Address": "b@example.com"},
    )
    scoped = Api(url, app_key(app, a))
    assert [x["Id"] for x in scoped("GET", "/api/v1/apps").json()["Item"]] == [a]
    for method, path, body in [
        ("GET", f"/api/v1/apps/{b}", None),
        ("GET", f"/api/v1/apps/{b}/endpoints/e1", None),
        ("PUT", f"/api/v1/apps/{b}/endpoints/e1", {"OptOut": "ALL"}),
        ("DELETE", f"/api/v1/apps/{b}", None),
        ("GET", f"/api/v1/apps/{b}/segments", None),
        ("GET", f"/api/v1/apps/{b}/journeys", None),
        ("POST", f"/api/v1/apps/{b}/events", [{"EndpointId": "e1", "EventType": "x"}]),
        ("POST", "/api/v1/apps", {"Name": "C"}),
    ]:
        _problem(scoped(method, path, json=body), 403)
    scoped.close()
    with app.store.connect() as conn:
        assert endpoint_store.get(conn, b, "e1").opt_out == "NONE"


def test_uploaded_lists_import_and_segments_count_preview_and_export(admin: Api) -> None:
    app_id = _app(admin)
    job = admin(
        "POST",
        f"/api/v1/apps/{app_id}/imports/upload?name=seed.csv",
        content=SEED_CSV.encode(),
        headers={"content-type": "text/csv"},
    )
    assert job.status_code == 201, job.text
    assert job.json()["TotalProcessed"] == 3
    jobs = admin("GET", f"/api/v1/apps/{app_id}/imports").json()["Item"]
    assert [j["Id"] for j in jobs] == [job.json()["Id"]]
    created = admin(
        "POST",
        f"/api/v1/apps/{app_id}/segments",
        json={
            "Name": "pending-email",
            "Filter": "ChannelType = EMAIL AND Attributes.CallStatus = Pending",
        },
    )
    assert created.status_code == 201, created.text
    seg = created.json()["Id"]
    assert admin("GET", f"/api/v1/apps/{app_id}/segments/{seg}/count").json()["Count"] == 1
    preview = admin("GET", f"/api/v1/apps/{app_id}/segments/{seg}/preview").json()["Item"]
    assert [e["Address"] for e in preview] == ["test@example.com"]
    exported = admin("GET", f"/api/v1/apps/{app_id}/segments/{seg}/export")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "test@example.com" in exported.text
    bad = _problem(
        admin(
            "POST",
            f"/api/v1/apps/{app_id}/segments",
            json={"Name": "x", "Filter": "ChannelType =="},
        ),
        422,
    )
    assert bad["errors"]


def test_journeys_validate_and_move_through_their_states(admin: Api) -> None:
    app_id = _app(admin)
    invalid = admin(
        "POST", f"/api/v1/apps/{app_id}/journeys/validate", json={"Name": "j", "Activities": {}}
    ).json()
    assert invalid["Valid"] is False
    assert invalid["Problems"]
    created = admin("POST", f"/api/v1/apps/{app_id}/journeys", json=SIMPLE_JOURNEY)
    assert created.status_code == 201, created.text
    jid = created.json()["Id"]
    assert (
        admin("POST", f"/api/v1/apps/{app_id}/journeys/{jid}/publish").json()["State"] == "ACTIVE"
    )
    assert admin("POST", f"/api/v1/apps/{app_id}/journeys/{jid}/pause").json()["State"] == "PAUSED"
    assert admin("POST", f"/api/v1/apps/{app_id}/journeys/{jid}/resume").json()["State"] == "ACTIVE"
    _problem(admin("POST", f"/api/v1/apps/{app_id}/journeys/{jid}/publish"), 409)
    assert admin("GET", f"/api/v1/apps/{app_id}/journeys/{jid}/metrics").json()["JourneyId"] == jid
    assert admin("GET", f"/api/v1/apps/{app_id}/journeys/{jid}/participants").json() == {"Item": []}
    assert (
        admin("POST", f"/api/v1/apps/{app_id}/journeys/{jid}/cancel").json()["State"] == "CANCELLED"
    )


def test_templates_events_and_timelines(admin: Api) -> None:
    app_id = _app(admin)
    put = admin(
        "PUT", f"/api/v1/apps/{app_id}/templates/SMS/remind", json={"Body": "Hi {{User.UserId}}"}
    )
    assert put.status_code == 200, put.text
    got = admin("GET", f"/api/v1/apps/{app_id}/templates/SMS/remind").json()
    assert got["Body"] == "Hi {{User.UserId}}"
    listed = admin("GET", f"/api/v1/apps/{app_id}/templates?type=SMS").json()["Item"]
    assert [t["TemplateName"] for t in listed] == ["remind"]
    _problem(admin("PUT", f"/api/v1/apps/{app_id}/templates/SMS/bad name", json={"Body": "x"}), 422)
    assert admin("DELETE", f"/api/v1/apps/{app_id}/templates/SMS/remind").status_code == 200
    _problem(admin("GET", f"/api/v1/apps/{app_id}/templates/SMS/remind"), 404)
    admin(
        "PUT",
        f"/api/v1/apps/{app_id}/endpoints/e1",
        json={"ChannelType": "EMAIL", "Address": "a@example.com", "User": {"UserId": "u1"}},
    )
    events = admin(
        "POST", f"/api/v1/apps/{app_id}/events", json=[{"UserId": "u1", "EventType": "replied"}]
    )
    assert events.status_code == 200, events.text
    timeline = admin("GET", f"/api/v1/apps/{app_id}/users/u1/timeline").json()["Item"]
    assert [e["Data"]["EventType"] for e in timeline if e["Kind"] == "custom.event"] == ["replied"]


def test_contact_flows_are_validated_stored_and_read_and_calls_listed(admin: Api) -> None:
    app_id = _app(admin)
    flow = json.loads((REPO / "examples" / "seed-flow.json").read_text(encoding="utf-8"))
    checked = admin("POST", f"/api/v1/apps/{app_id}/flows/validate", json=flow)
    assert checked.status_code == 200, checked.text
    assert checked.json()["Valid"] is True
    stored = admin("PUT", f"/api/v1/apps/{app_id}/flows/press-one", json=flow)
    assert stored.status_code == 200, stored.text
    shown = admin("GET", f"/api/v1/apps/{app_id}/flows/press-one").json()
    assert shown["Content"] == flow
    assert [f["Name"] for f in admin("GET", f"/api/v1/apps/{app_id}/flows").json()["Item"]] == [
        "press-one"
    ]
    broken = _problem(
        admin("POST", f"/api/v1/apps/{app_id}/flows/validate", json={"Actions": "nope"}), 422
    )
    assert broken["errors"]
    assert admin("GET", f"/api/v1/apps/{app_id}/calls").json() == {"Item": []}
    _problem(admin("GET", f"/api/v1/apps/{app_id}/calls/nope"), 404)


def test_settings_and_their_check_are_for_administrator_keys_only(
    server: tuple[App, str], admin: Api
) -> None:
    app, url = server
    shown = admin("GET", "/api/v1/settings").json()
    assert shown["server"]["port"] == 8080
    assert shown["server"]["master_key_file"].endswith("master.key")
    checked = admin("GET", "/api/v1/settings/check").json()
    assert checked["Ok"] is True
    assert any(c["Component"].lower().startswith("database") for c in checked["Checks"])
    scoped = Api(url, app_key(app, _app(admin)))
    _problem(scoped("GET", "/api/v1/settings/check"), 403)
    scoped.close()


def test_oversize_bodies_get_413_problem_details_declared_or_streamed(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = make_app(sqlite_url, tmp_path, max_body_bytes=2048, max_upload_bytes=4096)
    try:
        with live_server(app) as url:
            admin = Api(url, admin_key(app))
            app_id = _app(admin)
            big = {"ChannelType": "EMAIL", "Address": "x" * 5000}
            declared = admin("PUT", f"/api/v1/apps/{app_id}/endpoints/e1", json=big)
            assert "2048 bytes" in _problem(declared, 413)["detail"]

            def chunks() -> Iterator[bytes]:
                yield b'{"ChannelType": "EMAIL", "Address": "'
                for _ in range(10):
                    yield b"x" * 500
                yield b'"}'

            streamed = admin(
                "PUT",
                f"/api/v1/apps/{app_id}/endpoints/e1",
                content=chunks(),
                headers={"content-type": "application/json"},
            )
            _problem(streamed, 413)
            upload = admin(
                "POST",
                f"/api/v1/apps/{app_id}/imports/upload",
                content=SEED_CSV.encode() * 40,
                headers={"content-type": "text/csv"},
            )
            assert "4096 bytes" in _problem(upload, 413)["detail"]
            small = admin(
                "POST",
                f"/api/v1/apps/{app_id}/imports/upload",
                content=SEED_CSV.encode(),
                headers={"content-type": "text/csv"},
            )
            assert small.status_code == 201
            admin.close()
            with app.store.connect() as conn:
                assert endpoint_store.find(conn, app_id, "e1") is None
    finally:
        app.close()
