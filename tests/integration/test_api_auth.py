"""Authentication and isolation: real SigV4 checks, bearer tokens, per-application keys,
replay refusal, revocation, throttling and secrets kept out of the store in plain text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.auth
import httpx
import pytest
from api_support import admin_key, app_key, bearer, live_server, make_app, pinpoint_client
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from sqlalchemy import select

from renraku.app import App
from renraku.store import endpoints as endpoint_store
from renraku.store.api_keys import api_keys


@pytest.fixture
def url_for(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Both dialects for tests that ask for ``db_url`` (they exercise the store); SQLite for the
    dialect-free checks."""
    if "db_url" in request.fixturenames:
        return str(request.getfixturevalue("db_url"))
    return sqlite_url


@pytest.fixture
def server(url_for: str, tmp_path: Path) -> Iterator[tuple[App, str]]:
    app = make_app(url_for, tmp_path, key_cache_seconds=0)
    try:
        with live_server(app) as url:
            yield app, url
    finally:
        app.close()


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def _two_apps(app: App, url: str) -> tuple[str, str, Any]:
    admin = pinpoint_client(url, admin_key(app))
    a = admin.create_app(CreateApplicationRequest={"Name": "A"})["ApplicationResponse"]["Id"]
    b = admin.create_app(CreateApplicationRequest={"Name": "B"})["ApplicationResponse"]["Id"]
    for app_id in (a, b):
        admin.update_endpoint(
            ApplicationId=app_id,
            EndpointId="e1",
            EndpointRequest={
                "ChannelType": "EMAIL",
                "Address": "x@example.com",
                "User": {"UserId": "User1"},
                "Attributes": {"Owner": [app_id]},
            },
        )
    return a, b, admin


def _signed(
    key: dict[str, Any],
    method: str,
    url: str,
    body: bytes = b"",
    *,
    service: str = "mobiletargeting",
) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body)
    creds = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    SigV4Auth(creds, service, "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_an_application_key_cannot_read_or_change_another_applications_data(
    db_url: str,
    server: tuple[App, str],
) -> None:
    app, url = server
    a, b, _ = _two_apps(app, url)
    client = pinpoint_client(url, app_key(app, a))
    own = client.get_endpoint(ApplicationId=a, EndpointId="e1")["EndpointResponse"]
    assert own["Attributes"]["Owner"] == [a]
    attempts = [
        lambda: client.get_app(ApplicationId=b),
        lambda: client.get_endpoint(ApplicationId=b, EndpointId="e1"),
        lambda: client.get_user_endpoints(ApplicationId=b, UserId="User1"),
        lambda: client.update_endpoint(
            ApplicationId=b, EndpointId="e1", EndpointRequest={"Attributes": {"Owner": ["A"]}}
        ),
        lambda: client.update_endpoints_batch(
            ApplicationId=b, EndpointBatchRequest={"Item": [{"Id": "e2", "ChannelType": "SMS"}]}
        ),
        lambda: client.delete_endpoint(ApplicationId=b, EndpointId="e1"),
        lambda: client.delete_user_endpoints(ApplicationId=b, UserId="User1"),
        lambda: client.delete_app(ApplicationId=b),
        lambda: client.create_app(CreateApplicationRequest={"Name": "C"}),
    ]
    for attempt in attempts:
        with pytest.raises(ClientError) as exc:
            attempt()
        assert _code(exc) == (403, "ForbiddenException")
    listed = client.get_apps()["ApplicationsResponse"]["Item"]
    assert [x["Id"] for x in listed] == [a]
    with app.store.connect() as conn:
        theirs = endpoint_store.get(conn, b, "e1")
        assert endpoint_store.count(conn, b) == 1
    assert theirs.attributes["Owner"] == [b]


def test_a_key_for_an_application_that_does_not_exist_yet_gets_forbidden_not_a_hint(
    server: tuple[App, str],
) -> None:
    app, url = server
    a, _, _ = _two_apps(app, url)
    client = pinpoint_client(url, app_key(app, a))
    with pytest.raises(ClientError) as exc:
        client.get_app(ApplicationId="0" * 32)
    assert _code(exc) == (403, "ForbiddenException")


def test_a_wrong_secret_is_refused_with_an_aws_style_invalid_signature(
    server: tuple[App, str],
) -> None:
    app, url = server
    key = admin_key(app)
    secret = key["SecretAccessKey"]
    # Change the last character to one it certainly is not, so the forgery always differs.
    forged = {**key, "SecretAccessKey": secret[:-1] + ("y" if secret.endswith("x") else "x")}
    assert forged["SecretAccessKey"] != secret
    with pytest.raises(ClientError) as exc:
        pinpoint_client(url, forged).get_apps()
    assert _code(exc) == (403, "InvalidSignatureException")
    with pytest.raises(ClientError) as exc:
        pinpoint_client(url, {**key, "AccessKeyId": "RKIAUNKNOWNKEY000000"}).get_apps()
    assert _code(exc) == (403, "UnrecognizedClientException")


def test_a_tampered_body_or_path_no_longer_matches_its_signature(server: tuple[App, str]) -> None:
    app, url = server
    a, _, _ = _two_apps(app, url)
    key = admin_key(app)
    target = f"{url}/v1/apps/{a}/endpoints/e1"
    headers = _signed(key, "PUT", target, b'{"OptOut": "NONE"}')
    response = httpx.put(target, content=b'{"OptOut": "ALL"}', headers=headers)
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert set(response.json()) == {"Message", "RequestID"}
    other = f"{url}/v1/apps/{a}/endpoints/e2"
    response = httpx.put(other, content=b'{"OptOut": "NONE"}', headers=headers)
    assert response.status_code == 403
    with app.store.connect() as conn:
        assert endpoint_store.get(conn, a, "e1").opt_out == "NONE"
        assert endpoint_store.find(conn, a, "e2") is None


def test_requests_signed_outside_the_clock_skew_window_are_refused(
    server: tuple[App, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = server
    key = admin_key(app)
    stale = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: stale)
    headers = _signed(key, "GET", f"{url}/v1/apps")
    response = httpx.get(f"{url}/v1/apps", headers=headers)
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert "expired" in response.json()["Message"]


def test_a_replayed_state_changing_request_is_refused_but_reads_may_repeat(
    server: tuple[App, str],
) -> None:
    app, url = server
    a, _, _ = _two_apps(app, url)
    key = admin_key(app)
    target = f"{url}/v1/apps/{a}/endpoints/e1"
    body = b'{"Attributes": {"CallStatus": ["COMPLETED"]}}'
    headers = _signed(key, "PUT", target, body)
    assert httpx.put(target, content=body, headers=headers).status_code == 202
    replay = httpx.put(target, content=body, headers=headers)
    assert replay.status_code == 403
    assert "already" in replay.json()["Message"]
    read = _signed(key, "GET", target)
    assert httpx.get(target, headers=read).status_code == 200
    assert httpx.get(target, headers=read).status_code == 200


def test_a_signature_for_another_service_is_refused(server: tuple[App, str]) -> None:
    app, url = server
    headers = _signed(admin_key(app), "GET", f"{url}/v1/apps", service="s3")
    response = httpx.get(f"{url}/v1/apps", headers=headers)
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_unsigned_requests_are_refused_and_health_is_open(server: tuple[App, str]) -> None:
    _, url = server
    response = httpx.get(f"{url}/v1/apps")
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    native = httpx.get(f"{url}/api/v1/apps")
    assert native.status_code == 403
    assert native.headers["content-type"] == "application/problem+json"
    assert httpx.get(f"{url}/healthz").status_code == 200
    assert httpx.get(f"{url}/readyz").json() == {"status": "ready"}


def test_metrics_need_an_administrator_key(server: tuple[App, str]) -> None:
    app, url = server
    app_id = pinpoint_client(url, admin_key(app)).create_app(
        CreateApplicationRequest={"Name": "A"}
    )["ApplicationResponse"]["Id"]
    anonymous = httpx.get(f"{url}/metrics")
    assert anonymous.status_code in (401, 403)
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert "renraku_http_requests_total" not in anonymous.text
    one_app = httpx.get(f"{url}/metrics", headers=bearer(app_key(app, app_id)))
    assert one_app.status_code == 403
    assert "administrator key" in one_app.json()["detail"]
    scraped = httpx.get(f"{url}/metrics", headers=bearer(admin_key(app)))
    assert scraped.status_code == 200
    assert "renraku_http_requests_total" in scraped.text


def test_public_metrics_setting_opens_metrics_and_nothing_else(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = make_app(sqlite_url, tmp_path, public_metrics=True)
    try:
        with live_server(app) as url:
            assert "renraku_http_requests_total" in httpx.get(f"{url}/metrics").text
            assert httpx.get(f"{url}/api/v1/openapi.json").status_code in (401, 403)
            assert httpx.get(f"{url}/api/v1/apps").status_code in (401, 403)
    finally:
        app.close()


def test_the_openapi_document_and_its_page_need_any_valid_key(server: tuple[App, str]) -> None:
    app, url = server
    app_id = pinpoint_client(url, admin_key(app)).create_app(
        CreateApplicationRequest={"Name": "A"}
    )["ApplicationResponse"]["Id"]
    for path in ("/api/v1/openapi.json", "/api/v1/docs"):
        refused = httpx.get(f"{url}{path}")
        assert refused.status_code in (401, 403), path
        assert "/api/v1/apps/{app_id}/journeys" not in refused.text
    key = app_key(app, app_id)
    document = httpx.get(f"{url}/api/v1/openapi.json", headers=bearer(key))
    assert document.status_code == 200
    assert "/api/v1/apps/{app_id}/journeys/{journey_id}" in document.json()["paths"]
    page = httpx.get(f"{url}/api/v1/docs", headers=bearer(key))
    assert page.status_code == 200
    assert "data:application/json;base64," in page.text


def test_revoked_keys_are_refused_on_both_apis(server: tuple[App, str]) -> None:
    from renraku.api import keyring

    app, url = server
    key = admin_key(app)
    client = pinpoint_client(url, key)
    assert client.get_apps()["ApplicationsResponse"]["Item"] == []
    assert httpx.get(f"{url}/api/v1/apps", headers=bearer(key)).status_code == 200
    keyring.revoke_key(app, key["AccessKeyId"])
    with pytest.raises(ClientError) as exc:
        client.get_apps()
    assert _code(exc) == (403, "UnrecognizedClientException")
    assert httpx.get(f"{url}/api/v1/apps", headers=bearer(key)).status_code == 401


def test_a_bearer_token_with_a_wrong_secret_is_unauthorized(server: tuple[App, str]) -> None:
    app, url = server
    key = admin_key(app)
    wrong = {**key, "SecretAccessKey": "x" + key["SecretAccessKey"][1:]}
    response = httpx.get(f"{url}/api/v1/apps", headers=bearer(wrong))
    assert response.status_code == 401
    assert response.json()["status"] == 401


def test_the_same_key_pair_signs_native_requests_with_sigv4(server: tuple[App, str]) -> None:
    app, url = server
    key = admin_key(app)
    headers = _signed(key, "GET", f"{url}/api/v1/apps", service="renraku")
    response = httpx.get(f"{url}/api/v1/apps", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"Item": []}


def test_secrets_are_stored_encrypted_and_hashed_never_in_plain_text(
    server: tuple[App, str],
) -> None:
    app, _ = server
    key = admin_key(app)
    with app.store.connect() as conn:
        row = conn.execute(select(api_keys)).one()
    assert all(key["SecretAccessKey"] not in str(value) for value in row)
    assert row.secret_hash != key["SecretAccessKey"]


def test_throttled_keys_get_429_too_many_requests_which_boto3_retries(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = make_app(sqlite_url, tmp_path, throttle_rate=0.5, throttle_burst=2)
    try:
        with live_server(app) as url:
            key = admin_key(app)
            impatient = pinpoint_client(url, key, retries=1)
            impatient.get_apps()
            impatient.get_apps()
            with pytest.raises(ClientError) as exc:
                impatient.get_apps()
            assert _code(exc) == (429, "TooManyRequestsException")
            assert "requests per second" in exc.value.response["Error"]["Message"]
            native = httpx.get(f"{url}/api/v1/apps", headers=bearer(key))
            assert native.status_code == 429
            assert native.headers["retry-after"] == "1"
            patient = pinpoint_client(url, key, retries=10)
            assert patient.get_apps()["ApplicationsResponse"]["Item"] == []
    finally:
        app.close()
