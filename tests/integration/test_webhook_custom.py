"""The CUSTOM channel to a real local webhook: batches of 50, HMAC signature, answers, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from channel_support import add_endpoint, delivery, events_of, make_app, serve, sqlite_store
from fastapi import FastAPI, Request, Response

from renraku.channels.config import WebhookSettings
from renraku.channels.custom import CustomChannel
from renraku.settings import Settings
from renraku.store import Store
from renraku.store import deliverability as dv

LOCAL = WebhookSettings(allow_http=True, allow_private_targets=True, max_attempts=3)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """SQLite only: these tests are about the provider, not the store contract."""
    yield from sqlite_store(tmp_path)


class Receiver:
    """A webhook that records requests and answers as told."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, Any], bytes, str]] = []
        self.script: list[tuple[int, bytes]] = []

    def app(self) -> FastAPI:
        api = FastAPI()

        @api.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            self.requests.append(
                (json.loads(body), body, request.headers.get("X-Renraku-Signature", ""))
            )
            if self.script:
                status, answer = self.script.pop(0)
                return Response(answer, status_code=status, media_type="application/json")
            event = json.loads(body)
            answer = {eid: {"EventAttributes": {"CallQueued": "yes"}} for eid in event["Endpoints"]}
            return Response(json.dumps(answer), media_type="application/json")

        return api


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    r = Receiver()
    with serve(r.app()) as url:
        yield r, url + "/hook"


def _channel(store: Store, webhooks: WebhookSettings = LOCAL) -> tuple[CustomChannel, list[float]]:
    sleeps: list[float] = []
    return CustomChannel(
        Settings(db="sqlite://", webhooks=webhooks), store, sleep=sleeps.append
    ), sleeps


def test_deliveries_go_in_signed_batches_of_fifty_with_pinpoints_event_shape(
    store: Store, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    app_id = make_app(store)
    eps = [
        add_endpoint(
            store,
            app_id,
            "CUSTOM",
            f"+8190{i:08d}",
            user_id=f"User{i}",
            attributes={"CallStatus": ["Pending"]},
        )
        for i in range(120)
    ]
    ch, _ = _channel(store)
    results = ch.deliver(
        [delivery(ep, DeliveryUri=url, MessageConfig={"Data": "call-campaign"}) for ep in eps]
    )

    assert [len(event["Endpoints"]) for event, _, _ in rec.requests] == [50, 50, 20]
    event, body, signature = rec.requests[0]
    with store.connect() as conn:
        secret = dv.app_secret(conn, app_id, now="2026-11-26T03:00:00.000Z")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert event["ApplicationId"] == app_id
    assert event["JourneyId"] == "j1"
    assert event["ActivityId"] == "a1"
    assert event["Data"] == "call-campaign"
    first = event["Endpoints"][eps[0].id]
    assert first["ChannelType"] == "CUSTOM"
    assert first["Address"] == eps[0].address
    assert first["User"]["UserId"] == "User0"
    assert first["Attributes"] == {"CallStatus": ["Pending"]}
    assert all(r.outcome == "sent" for r in results)
    assert results[0].data["EventAttributes"] == {"CallQueued": "yes"}
    assert [e["Kind"] for e in events_of(store, app_id, eps[0].id)] == ["custom.sent"]


def test_opted_out_endpoints_are_left_out_of_the_batch(
    store: Store, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    app_id = make_app(store)
    a = add_endpoint(store, app_id, "CUSTOM", "+819011111111")
    b = add_endpoint(store, app_id, "CUSTOM", "+819022222222", opt_out="ALL")
    ch, _ = _channel(store)
    results = ch.deliver([delivery(a, DeliveryUri=url), delivery(b, DeliveryUri=url)])
    assert [r.outcome for r in results] == ["sent", "failed"]
    assert list(rec.requests[0][0]["Endpoints"]) == [a.id]


def test_server_errors_are_retried_with_backoff(
    store: Store, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    rec.script = [(503, b"busy"), (500, b"oops")]
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "CUSTOM", "+819011111111")
    ch, sleeps = _channel(store)
    [result] = ch.deliver([delivery(ep, DeliveryUri=url)])
    assert result.outcome == "sent"
    assert result.data["Attempts"] == 3
    assert len(sleeps) == 2


def test_client_errors_fail_permanently_with_the_status(
    store: Store, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    rec.script = [(400, b"{}")]
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "CUSTOM", "+819011111111")
    [result] = _channel(store)[0].deliver([delivery(ep, DeliveryUri=url)])
    assert result.outcome == "failed"
    assert result.permanent
    assert result.reason == "webhook answered HTTP 400"
    assert [e["Kind"] for e in events_of(store, app_id, ep.id)] == ["custom.failed"]


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"<html>not json</html>", "the answer is not JSON"),
        (b"[1, 2]", "not a JSON object keyed by endpoint id"),
        (b'{"someone-else": {"EventAttributes": {}}}', "is not an endpoint of this batch"),
    ],
)
def test_a_malformed_answer_is_recorded_and_the_send_still_counts(
    store: Store, receiver: tuple[Receiver, str], answer: bytes, why: str
) -> None:
    rec, url = receiver
    rec.script = [(200, answer)]
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "CUSTOM", "+819011111111")
    [result] = _channel(store)[0].deliver([delivery(ep, DeliveryUri=url)])
    assert result.outcome == "sent"
    assert why in result.data["AnswerIgnored"]
    assert why in events_of(store, app_id, ep.id)[0]["Data"]["AnswerIgnored"]


def test_an_oversize_answer_is_refused(store: Store, receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    rec.script = [(200, b"[" + b"0," * 2000 + b"0]")]
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "CUSTOM", "+819011111111")
    small = LOCAL.model_copy(update={"max_response_bytes": 1024})
    [result] = _channel(store, small)[0].deliver([delivery(ep, DeliveryUri=url)])
    assert result.outcome == "failed"
    assert "exceeds 1024 bytes" in (result.reason or "")


def test_loopback_and_plain_http_targets_are_refused_by_default(
    store: Store, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "CUSTOM", "+819011111111")
    https_local = url.replace("http://", "https://")
    ch, _ = _channel(store, WebhookSettings())
    plain, local = ch.deliver(
        [delivery(ep, DeliveryUri=url), delivery(ep, DeliveryUri=https_local)]
    )
    assert "plain http" in (plain.reason or "")
    assert "private or local address" in (local.reason or "")
    assert rec.requests == []


def test_a_repeated_send_key_is_not_posted_twice(
    store: Store, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "CUSTOM", "+819011111111")
    d = delivery(ep, DeliveryUri=url)
    ch, _ = _channel(store)
    first = ch.deliver([d])
    again = ch.deliver([d])
    assert len(rec.requests) == 1
    assert again[0].provider_message_id == first[0].provider_message_id
    assert ch.lookup(d.key) is not None
