"""Pinpoint-compatible routes driven by unmodified boto3 clients against a live server.

Every successful raw body is validated against botocore's output shapes (unknown members fail).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import ShapeChecker, admin_key, live_server, make_app, pinpoint_client
from botocore.exceptions import ClientError

from renraku.app import App
from renraku.store import endpoints as endpoint_store


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
def checker() -> ShapeChecker:
    return ShapeChecker()


@pytest.fixture
def client(server: tuple[App, str], checker: ShapeChecker) -> Any:
    app, url = server
    return pinpoint_client(url, admin_key(app), checker=checker)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def test_apps_are_created_listed_read_and_deleted_in_pinpoint_shapes(
    client: Any, checker: ShapeChecker
) -> None:
    created = client.create_app(CreateApplicationRequest={"Name": "outbound", "tags": {"t": "1"}})
    app = created["ApplicationResponse"]
    assert app["Name"] == "outbound"
    assert app["tags"] == {"t": "1"}
    assert client.get_app(ApplicationId=app["Id"])["ApplicationResponse"]["Id"] == app["Id"]
    listed = client.get_apps()["ApplicationsResponse"]["Item"]
    assert [a["Id"] for a in listed] == [app["Id"]]
    deleted = client.delete_app(ApplicationId=app["Id"])["ApplicationResponse"]
    assert deleted["Id"] == app["Id"]
    with pytest.raises(ClientError) as exc:
        client.get_app(ApplicationId=app["Id"])
    assert _error(exc)[:2] == (404, "NotFoundException")
    assert checker.problems == []
    assert checker.checked == ["CreateApp", "GetApp", "GetApps", "DeleteApp"]


def test_get_apps_pages_with_page_size_and_token_and_rejects_a_forged_token(client: Any) -> None:
    ids = [
        client.create_app(CreateApplicationRequest={"Name": f"a{i}"})["ApplicationResponse"]["Id"]
        for i in range(5)
    ]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs = {"PageSize": "2"} | ({"Token": token} if token else {})
        page = client.get_apps(**kwargs)["ApplicationsResponse"]
        seen += [a["Id"] for a in page["Item"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert seen == ids
    assert pages == 3
    with pytest.raises(ClientError) as exc:
        client.get_apps(Token="not-a-token")
    status, code, message = _error(exc)
    assert (status, code) == (400, "BadRequestException")
    assert "token" in message


def test_the_seeds_status_update_flows_through_get_user_endpoints_and_update_endpoint(
    db_url: str, client: Any, checker: ShapeChecker
) -> None:
    app_id = client.create_app(CreateApplicationRequest={"Name": "seed"})["ApplicationResponse"][
        "Id"
    ]
    rows = [
        ("CUSTOM", "+819011111111", "User1-Custom"),
        ("SMS", "+819011111111", "User1-SMS"),
        ("EMAIL", "test@example.com", "User1-EMAIL"),
    ]
    for channel, address, index in rows:
        client.update_endpoint(
            ApplicationId=app_id,
            EndpointId=index,
            EndpointRequest={
                "ChannelType": channel,
                "Address": address,
                "User": {"UserId": "User1"},
                "Attributes": {"CallStatus": ["Pending"], "Index": [index]},
            },
        )
    # The deck's Lambda: find each endpoint by its Index attribute and mark the call done.
    response = client.get_user_endpoints(ApplicationId=app_id, UserId="User1")
    for endpoint in response["EndpointsResponse"]["Item"]:
        index = endpoint["Attributes"]["Index"][0]
        status = "COMPLETED" if index == "User1-Custom" else "CANCELED"
        client.update_endpoint(
            ApplicationId=app_id,
            EndpointId=endpoint["Id"],
            EndpointRequest={"Attributes": {"CallStatus": [status]}},
        )
    after = client.get_user_endpoints(ApplicationId=app_id, UserId="User1")["EndpointsResponse"]
    statuses = {e["Id"]: e["Attributes"]["CallStatus"] for e in after["Item"]}
    assert statuses == {
        "User1-Custom": ["COMPLETED"],
        "User1-SMS": ["CANCELED"],
        "User1-EMAIL": ["CANCELED"],
    }
    one = client.get_endpoint(ApplicationId=app_id, EndpointId="User1-EMAIL")["EndpointResponse"]
    assert one["Address"] == "test@example.com"
    assert one["User"]["UserId"] == "User1"
    assert checker.problems == []


def test_path_segments_are_percent_decoded_for_ids_with_spaces_and_slashes(
    db_url: str, server: tuple[App, str], client: Any
) -> None:
    app, _ = server
    app_id = client.create_app(CreateApplicationRequest={"Name": "p"})["ApplicationResponse"]["Id"]
    client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="ep 1/ä",
        EndpointRequest={
            "ChannelType": "EMAIL",
            "Address": "a@example.com",
            "User": {"UserId": "u 1/ü"},
        },
    )
    with app.store.connect() as conn:
        stored = endpoint_store.get(conn, app_id, "ep 1/ä")
    assert stored.user_id == "u 1/ü"
    items = client.get_user_endpoints(ApplicationId=app_id, UserId="u 1/ü")["EndpointsResponse"]
    assert [e["Id"] for e in items["Item"]] == ["ep 1/ä"]


def test_update_endpoints_batch_writes_all_or_nothing_and_names_the_bad_item(
    db_url: str, server: tuple[App, str], client: Any
) -> None:
    app, _ = server
    app_id = client.create_app(CreateApplicationRequest={"Name": "b"})["ApplicationResponse"]["Id"]
    good = {"Id": "g1", "ChannelType": "EMAIL", "Address": "g@example.com"}
    bad = {"Id": "b1", "ChannelType": "EMAIL", "Address": "g@example.com", "OptOut": "MAYBE"}
    with pytest.raises(ClientError) as exc:
        client.update_endpoints_batch(
            ApplicationId=app_id, EndpointBatchRequest={"Item": [good, bad]}
        )
    status, code, message = _error(exc)
    assert (status, code) == (400, "BadRequestException")
    assert "Item[1]" in message
    with app.store.connect() as conn:
        assert endpoint_store.count(conn, app_id) == 0
    done = client.update_endpoints_batch(
        ApplicationId=app_id, EndpointBatchRequest={"Item": [good]}
    )
    assert done["MessageBody"]["Message"] == "Accepted"
    with app.store.connect() as conn:
        assert endpoint_store.count(conn, app_id) == 1


def test_unknown_members_and_wrong_types_are_refused_with_the_field_named_and_nothing_written(
    server: tuple[App, str], client: Any
) -> None:
    app, url = server
    app_id = client.create_app(CreateApplicationRequest={"Name": "v"})["ApplicationResponse"]["Id"]
    # boto3 validates its own input, so send what other clients could: signed raw requests.
    raw = _raw_client(client)
    cases = {
        b'{"ChannelType": "SMS", "Colour": "red"}': "Colour",
        b'{"ChannelType": "SMS", "Attributes": {"CallStatus": 5}}': "Attributes.CallStatus",
        b'{"ChannelType": ': "not valid JSON",
        b"[1, 2]": "JSON object",
        b"": "empty",
        b'{"Attributes": {"x": ' + b"[" * 20000 + b"]" * 20000 + b"}}": "nested too deeply",
        b'{"Attributes": {"x": ' + b"[" * 900 + b"]" * 900 + b"}}": "Attributes",
    }
    for body, named in cases.items():
        response = raw("PUT", f"{url}/v1/apps/{app_id}/endpoints/e1", body)
        assert response.status_code == 400, body
        assert response.headers["x-amzn-ErrorType"] == "BadRequestException"
        payload = response.json()
        assert named in payload["Message"], (body, payload)
        assert set(payload) == {"Message", "RequestID"}
    with app.store.connect() as conn:
        assert endpoint_store.count(conn, app_id) == 0


def test_operations_renraku_does_not_implement_answer_not_found_naming_the_operation(
    client: Any,
) -> None:
    with pytest.raises(ClientError) as exc:
        client.get_campaigns(ApplicationId="whatever")
    status, code, message = _error(exc)
    assert (status, code) == (404, "NotFoundException")
    assert "GetCampaigns" in message


def test_unknown_applications_and_endpoints_are_not_found(client: Any) -> None:
    with pytest.raises(ClientError) as exc:
        client.get_endpoint(ApplicationId="nope", EndpointId="e")
    assert _error(exc)[:2] == (404, "NotFoundException")
    app_id = client.create_app(CreateApplicationRequest={"Name": "n"})["ApplicationResponse"]["Id"]
    with pytest.raises(ClientError) as exc:
        client.get_endpoint(ApplicationId=app_id, EndpointId="missing")
    assert _error(exc)[:2] == (404, "NotFoundException")
    with pytest.raises(ClientError) as exc:
        client.get_user_endpoints(ApplicationId=app_id, UserId="nobody")
    assert _error(exc)[:2] == (404, "NotFoundException")


def test_oversize_bodies_are_refused_with_payload_too_large(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = make_app(sqlite_url, tmp_path, max_body_bytes=2048)
    try:
        with live_server(app) as url:
            client = pinpoint_client(url, admin_key(app))
            app_id = client.create_app(CreateApplicationRequest={"Name": "big"})[
                "ApplicationResponse"
            ]["Id"]
            with pytest.raises(ClientError) as exc:
                client.update_endpoint(
                    ApplicationId=app_id,
                    EndpointId="e",
                    EndpointRequest={"ChannelType": "SMS", "Address": "x" * 4000},
                )
            assert _error(exc)[:2] == (413, "PayloadTooLargeException")
    finally:
        app.close()


def _raw_client(client: Any) -> Any:
    """Send arbitrary bodies signed with the client's own credentials and botocore's signer."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = client._request_signer._credentials  # the same key the client uses

    def send(method: str, url: str, body: bytes) -> httpx.Response:
        request = AWSRequest(
            method=method, url=url, data=body, headers={"Content-Type": "application/json"}
        )
        SigV4Auth(credentials, "mobiletargeting", "us-east-1").add_auth(request)
        return httpx.request(method, url, content=body, headers=dict(request.headers.items()))

    return send


def test_writes_to_a_just_deleted_application_are_not_found_not_a_conflict(client: Any) -> None:
    app_id = client.create_app(CreateApplicationRequest={"Name": "gone"})["ApplicationResponse"][
        "Id"
    ]
    request = {"ChannelType": "EMAIL", "Address": "a@example.com"}
    client.update_endpoint(ApplicationId=app_id, EndpointId="e1", EndpointRequest=request)
    client.delete_app(ApplicationId=app_id)
    with pytest.raises(ClientError) as exc:
        client.update_endpoint(ApplicationId=app_id, EndpointId="e2", EndpointRequest=request)
    assert _error(exc)[:2] == (404, "NotFoundException")
