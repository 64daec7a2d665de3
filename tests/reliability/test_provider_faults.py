"""Provider faults on a running journey: a webhook provider (the CUSTOM channel) that times out,
answers 429, or answers 500 every time. Sends are retried within bounds (attempts per send x
tries per send), then settle as sent or failed; every retry and failure is an event.
Providers that accept and then fall silent are in test_provider_silence.py."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator

import pytest
from channel_support import serve
from fastapi import FastAPI, Request, Response
from sqlalchemy import select

from renraku.app import build_app
from renraku.channels.config import PolicySettings, RetrySettings, WebhookSettings
from renraku.domain.endpoints import Endpoint
from renraku.engine.config import JourneySettings
from renraku.engine.worker import Worker
from renraku.services import journeys
from renraku.settings import ClockSettings, Settings
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store
from renraku.store.events import events as journey_events
from renraku.store.participants import participants
from renraku.store.sends import sends

KINDS = ("ok", "slow", "busy", "broken")
PER_KIND = 4
ATTEMPTS, TRIES, TIMEOUT = 3, 2, 0.3


class Provider:
    """Answers per endpoint: ok at once; slow past the timeout once; 429 twice; 500 always."""

    def __init__(self) -> None:
        self.posts: Counter[str] = Counter()

    def app(self) -> FastAPI:
        api = FastAPI()

        @api.post("/hook")
        async def hook(request: Request) -> Response:
            event = json.loads(await request.body())
            (eid,) = event["Endpoints"]
            self.posts[eid] += 1
            n, kind = self.posts[eid], eid.split("-")[0]
            if kind == "slow" and n == 1:
                await asyncio.sleep(TIMEOUT * 3)
            if kind == "busy" and n <= 2:
                return Response("{}", status_code=429)
            if kind == "broken":
                return Response("{}", status_code=500)
            return Response(json.dumps({eid: {"EventAttributes": {"Queued": "yes"}}}))

        return api


@pytest.fixture
def provider() -> Iterator[tuple[Provider, str]]:
    p = Provider()
    with serve(p.app()) as url:
        yield p, url + "/hook"


def test_timeouts_429s_and_500s_are_retried_within_bounds_and_visible_as_events(
    pg_url: str, provider: tuple[Provider, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prov, url = provider
    # One endpoint per POST, so each endpoint meets its own fault (retries of several
    # participants that fall due together would otherwise share a batch of up to 50).
    monkeypatch.setattr("renraku.channels.custom.BATCH", 1)
    settings = Settings(
        db=pg_url,
        clock=ClockSettings(mode="virtual", virtual_start="2026-03-05T01:00:00.000Z"),
        webhooks=WebhookSettings(
            allow_http=True,
            allow_private_targets=True,
            max_attempts=ATTEMPTS,
            timeout_seconds=TIMEOUT,
        ),
        policies=PolicySettings(
            retry=RetrySettings(base_delay_seconds=0.01, max_delay_seconds=0.05)
        ),
        journeys=JourneySettings(
            record_channels=["VOICE", "SMS", "EMAIL"], max_send_tries=TRIES, retry_base_seconds=0.05
        ),
    )
    app = build_app(settings)
    try:
        now = app.now_iso()
        with app.store.begin() as conn:
            app_id = app_store.create_app(conn, "faults", now=now)["Id"]
            eps = [
                Endpoint(
                    app_id=app_id,
                    id=f"{kind}-{i}",
                    channel_type="CUSTOM",
                    address=f"{kind}-{i}",
                    user_id=f"{kind}-{i}",
                    creation_date=now,
                    effective_date=now,
                )
                for kind in KINDS
                for i in range(PER_KIND)
            ]
            endpoint_store.upsert_many(conn, eps)
            seg = segment_store.import_segment_for(
                conn, app_id, "faults", now=now, import_definition={"Format": "CSV"}
            )
            segment_store.add_members(conn, app_id, seg, [e.id for e in eps])
        definition = {
            "Name": "provider faults",
            "StartCondition": {"SegmentStartCondition": {"SegmentId": seg}},
            "StartActivity": "hook",
            "Activities": {
                "hook": {
                    "CUSTOM": {
                        "DeliveryUri": url,
                        "EndpointTypes": ["CUSTOM"],
                        "MessageConfig": {"Data": "{}"},
                        "NextActivity": "done",
                    }
                },
                "done": {"End": {}},
            },
        }
        jid = journeys.create(app, app_id, definition)["Id"]
        journeys.publish(app, app_id, jid)
        Worker(app, batch_size=1).run_until_idle(max_seconds=120)

        with app.store.connect() as conn:
            ledger = {r.endpoint_id: (r.status, r.tries) for r in conn.execute(select(sends))}
            statuses = {r.status for r in conn.execute(select(participants.c.status))}
            evs = [
                (r.kind, r.endpoint_id, r.data)
                for r in conn.execute(
                    select(journey_events).where(journey_events.c.kind.like("send.%"))
                )
            ]
    finally:
        app.close()

    for i in range(PER_KIND):
        assert prov.posts[f"ok-{i}"] == 1
        assert prov.posts[f"slow-{i}"] == 2  # timed out once, then answered
        assert prov.posts[f"busy-{i}"] == 3  # two 429s, then accepted
        assert prov.posts[f"broken-{i}"] == ATTEMPTS * TRIES  # bounded: never more
        for kind in ("ok", "slow", "busy"):
            assert ledger[f"{kind}-{i}"] == ("sent", 1)
        assert ledger[f"broken-{i}"] == ("failed", TRIES)
    assert statuses == {"FINISHED"}  # nobody left stuck on a failing provider
    failed = [e for e in evs if e[0] == "send.failed"]
    retried = [e for e in evs if e[0] == "send.retry"]
    assert sorted(e[1] for e in failed) == sorted(f"broken-{i}" for i in range(PER_KIND))
    assert all("HTTP 500" in e[2]["Reason"] and e[2]["Tries"] == TRIES for e in failed)
    assert sorted(e[1] for e in retried) == sorted(f"broken-{i}" for i in range(PER_KIND))
