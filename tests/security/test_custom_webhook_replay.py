"""Custom-channel webhooks carry a signature over time, request id and body
(``X-Renraku-Signature-V2``), so a target that checks it with ``verify_v2`` and remembers the ids
it handled refuses a captured request posted again, one from outside the window, and one whose
time or id was changed. Real channel, real local target."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import channel_support as cs
import httpx
import pytest
from fastapi import FastAPI, Request, Response

from renraku.channels.config import WebhookSettings
from renraku.channels.custom import CustomChannel
from renraku.channels.custom_webhook import SIGNATURE_V2_HEADER, sign_v2, verify_v2
from renraku.settings import Settings
from renraku.store import Store
from renraku.store import deliverability as dv


class Target:
    """A webhook target that verifies V2 signatures and handles each request id once."""

    def __init__(self) -> None:
        self.secret = ""
        self.handled: list[str] = []
        self.seen: set[str] = set()
        self.captured: list[tuple[bytes, dict[str, str]]] = []
        self.fail_first = 0

    def app(self) -> FastAPI:
        api = FastAPI()

        @api.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            self.captured.append((body, dict(request.headers)))
            try:
                _, request_id = verify_v2(
                    self.secret, request.headers.get(SIGNATURE_V2_HEADER, ""), body, time.time()
                )
            except ValueError as exc:
                return Response(str(exc), status_code=401)
            if self.fail_first:
                self.fail_first -= 1
                return Response("busy", status_code=503)
            if request_id in self.seen:
                return Response("already handled", status_code=409)
            self.seen.add(request_id)
            self.handled.append(json.loads(body)["ApplicationId"])
            return Response("{}", media_type="application/json")

        return api


@pytest.fixture
def target(tmp_path: Path) -> Iterator[tuple[Target, str, Store, str]]:
    """The target served locally, and an application whose secret it knows (SQLite only)."""
    for store in cs.sqlite_store(tmp_path):
        app_id = cs.make_app(store)
        t = Target()
        with store.begin() as conn:
            t.secret = dv.app_secret(conn, app_id, now=cs.NOW)
        with cs.serve(t.app()) as url:
            yield t, url + "/hook", store, app_id


def _deliver(store: Store, app_id: str, url: str) -> Any:
    ep = cs.add_endpoint(store, app_id, "CUSTOM", "+819011111111")
    webhooks = WebhookSettings(allow_http=True, allow_private_targets=True, max_attempts=3)
    channel = CustomChannel(
        Settings(db="sqlite://", webhooks=webhooks), store, sleep=lambda _: None
    )
    [result] = channel.deliver([cs.delivery(ep, DeliveryUri=url)])
    return result


def test_a_captured_webhook_request_posted_again_is_refused_by_its_id(
    target: tuple[Target, str, Store, str],
) -> None:
    t, url, store, app_id = target
    result = _deliver(store, app_id, url)
    assert result.outcome == "sent"
    assert t.handled == [app_id]
    body, headers = t.captured[0]
    header = headers[SIGNATURE_V2_HEADER.lower()]
    assert f"id={result.data['RequestId']}," in header

    replay = httpx.post(url, content=body, headers={SIGNATURE_V2_HEADER: header})
    assert replay.status_code == 409
    assert t.handled == [app_id]


def test_old_future_or_altered_signatures_are_refused(
    target: tuple[Target, str, Store, str],
) -> None:
    t, url, store, app_id = target
    _deliver(store, app_id, url)
    body, headers = t.captured[0]
    header = headers[SIGNATURE_V2_HEADER.lower()]
    fields = dict(part.split("=", 1) for part in header.split(","))
    sent = int(fields["t"])
    with pytest.raises(ValueError, match="replay"):
        verify_v2(t.secret, header, body, now=sent + 301)
    with pytest.raises(ValueError, match="replay"):
        verify_v2(t.secret, header, body, now=sent - 301)
    assert verify_v2(t.secret, header, body, now=sent + 299) == (sent, fields["id"])

    later = int(time.time())
    altered = [
        header.replace(f"t={sent}", f"t={later + 1}"),  # a fresh time on an old signature
        header.replace(f"id={fields['id']}", "id=another-id"),  # a new id to dodge the memory
        sign_v2("not-the-secret", body, later, "forged-id"),
    ]
    for forged in altered:
        answer = httpx.post(url, content=body, headers={SIGNATURE_V2_HEADER: forged})
        assert answer.status_code == 401
        assert "does not match" in answer.text
    tampered = body.replace(app_id.encode(), b"another-app")
    assert (
        httpx.post(url, content=tampered, headers={SIGNATURE_V2_HEADER: header}).status_code == 401
    )
    assert t.handled == [app_id]


def test_retries_keep_their_request_id_and_are_signed_afresh(
    target: tuple[Target, str, Store, str],
) -> None:
    t, url, store, app_id = target
    t.fail_first = 2
    result = _deliver(store, app_id, url)
    assert result.outcome == "sent"
    assert result.data["Attempts"] == 3
    ids = {
        dict(p.split("=", 1) for p in h[SIGNATURE_V2_HEADER.lower()].split(","))["id"]
        for _, h in t.captured
    }
    assert ids == {result.data["RequestId"]}
    assert t.handled == [app_id]
