"""Arbitrary JSON at the Pinpoint routes, signed with a valid key: always a 4xx or a success,
never a server error (hypothesis generates the bodies and path ids)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_support import admin_key, live_server, make_app
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renraku.app import App
from renraku.store import apps as app_store

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
MEMBERS = st.sampled_from(
    [
        "ChannelType", "Address", "Attributes", "User", "UserId", "UserAttributes", "OptOut",
        "EndpointStatus", "Demographic", "Timezone", "Location", "Latitude", "Metrics", "Item", "Id",
        "Name", "Dimensions", "SegmentGroups", "AttributeType", "Values", "Activities",
        "StartActivity", "StartCondition", "State", "BatchItem", "Events", "EventType",
        "Timestamp", "Body", "Subject", "HtmlPart", "S3Url", "Format", "RoleArn", "x",
    ]
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(MEMBERS, inner, max_size=5),
    max_leaves=25,
)
BODIES = st.dictionaries(MEMBERS, JSON, max_size=6)
IDS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
)

OPERATIONS = [
    ("PUT", "/v1/apps/{app}/endpoints/{id}"),
    ("PUT", "/v1/apps/{app}/endpoints"),
    ("POST", "/v1/apps/{app}/segments"),
    ("PUT", "/v1/apps/{app}/segments/{id}"),
    ("POST", "/v1/apps/{app}/journeys"),
    ("PUT", "/v1/apps/{app}/journeys/{id}/state"),
    ("POST", "/v1/apps/{app}/events"),
    ("POST", "/v1/apps/{app}/jobs/import"),
    ("POST", "/v1/templates/{id}/sms"),
    ("POST", "/v1/templates/{id}/email"),
    ("GET", "/v1/apps/{app}/users/{id}"),
]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Credentials]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    app: App = make_app(f"sqlite:///{tmp / 'fuzz.db'}", tmp, import_file_roots=[str(tmp)])
    with app.store.begin() as conn:
        app_id = app_store.create_app(conn, "fuzz", now=app.now_iso())["Id"]
    key = admin_key(app)
    try:
        with live_server(app) as url:
            yield url, app_id, Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        app.close()


@pytest.mark.parametrize(("method", "template"), OPERATIONS)
def test_arbitrary_json_never_causes_a_server_error(
    target: tuple[str, str, Credentials], method: str, template: str
) -> None:
    url, app_id, creds = target
    client = httpx.Client(timeout=30)

    @given(body=BODIES, ident=IDS)
    @settings(
        max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def send(body: dict[str, Any], ident: str) -> None:
        from urllib.parse import quote

        path = template.format(app=app_id, id=quote(ident, safe=""))
        data = b"" if method == "GET" else json.dumps(body).encode()
        request = AWSRequest(method=method, url=url + path, data=data)
        SigV4Auth(creds, "mobiletargeting", "us-east-1").add_auth(request)
        response = client.request(
            method, url + path, content=data, headers=dict(request.headers.items())
        )
        assert response.status_code < 500, (method, path, body, response.text)
        if response.status_code >= 400:
            assert response.headers.get("x-amzn-ErrorType"), (
                path,
                response.status_code,
                response.text,
            )
            assert set(response.json()) == {"Message", "RequestID"}

    try:
        send()
    finally:
        client.close()
