"""Simulated people answering the SMS and email they get, through renraku's real intake paths.

For each message the provider accepted, a seeded draw (the seed and the send's idempotency key)
decides whether and when its recipient responds. A reply to an SMS goes through the inbound-SMS
intake (``STOP`` opts the number out; any other reply marks the user reached by SMS); a click in
an email marks the user reached by email; an unsubscribe opts the email endpoint out. "Reached"
is the seed's rule: the answering endpoint's ``CallStatus`` becomes COMPLETED and the user's
other pending endpoints CANCELED, which drops them from the dynamic segment.

The same seed gives the same responses at the same journey times, whichever transport sent the
message, so a forecast reproduces a real run on the simulators.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from renraku.domain.timefmt import iso, parse_iso
from renraku.services import calls as call_service
from renraku.services import delivery_events
from renraku.simulation.config import ResponseModel
from renraku.store import deliverability as dv
from renraku.store import endpoints as endpoint_store
from renraku.store import events as event_store
from renraku.store import reach as reach_store

if TYPE_CHECKING:
    from renraku.app import App

SMS_REPLY = "はい、確認しました"  # "Yes, got it"
RESPONSE_KINDS = ("sms-reply", "sms-stop", "email-click", "email-unsubscribe")


@dataclass(frozen=True, slots=True, order=True)
class Response:
    """One person's response to one message, due at ``at`` (ISO, journey time)."""

    at: str
    key: str
    kind: str  # one of RESPONSE_KINDS
    app_id: str
    endpoint_id: str
    user_id: str | None


def draw(model: ResponseModel, seed: int, message: reach_store.SentMessage) -> Response | None:
    """Whether and when the recipient of ``message`` responds (pure; same inputs, same answer)."""
    rng = random.Random(f"{seed}:{message.key}")  # noqa: S311 - a model, not security
    r = rng.random()
    if message.channel == "SMS":
        kinds = (("sms-stop", model.sms_stop_rate), ("sms-reply", model.sms_reply_rate))
    elif message.channel == "EMAIL":
        kinds = (
            ("email-unsubscribe", model.email_unsubscribe_rate),
            ("email-click", model.email_click_rate),
        )
    else:
        return None
    chosen = None
    bound = 0.0
    for kind, rate in kinds:
        bound += rate
        if r < bound:
            chosen = kind
            break
    if chosen is None:
        return None
    low, high = sorted((model.delay_minutes_min, model.delay_minutes_max))
    delay = timedelta(minutes=rng.uniform(low, high))
    at = iso(parse_iso(message.created_at) + delay)
    return Response(at, message.key, chosen, message.app_id, message.endpoint_id, message.user_id)


class Responder:
    """Draws responses for a journey's new messages and carries out those that are due."""

    def __init__(self, app: App, app_id: str, journey_id: str, model: ResponseModel, seed: int):
        self.app = app
        self.app_id = app_id
        self.journey_id = journey_id
        self.model = model
        self.seed = seed
        self._seen: set[str] = set()
        self._since = ""
        self._due: list[Response] = []
        self.done: dict[str, int] = dict.fromkeys(RESPONSE_KINDS, 0)

    def collect(self) -> None:
        """Draw responses for messages sent since the last look."""
        with self.app.store.connect() as conn:
            found = reach_store.sent_messages(
                conn, self.app_id, self.journey_id, ("SMS", "EMAIL"), self._since
            )
        for message in found:
            if message.key in self._seen:
                continue
            self._seen.add(message.key)
            self._since = max(self._since, message.created_at)
            response = draw(self.model, self.seed, message)
            if response is not None:
                heapq.heappush(self._due, response)

    def next_due(self) -> datetime | None:
        return parse_iso(self._due[0].at) if self._due else None

    def apply_due(self, now: datetime) -> int:
        """Carry out every response due by ``now``; returns how many."""
        self.collect()
        now_s = iso(now)
        applied = 0
        while self._due and self._due[0].at <= now_s:
            self._apply(heapq.heappop(self._due))
            applied += 1
        return applied

    def _apply(self, r: Response) -> None:
        with self.app.store.connect() as conn:
            ep = endpoint_store.find(conn, r.app_id, r.endpoint_id)
        if ep is None or ep.opted_out:
            return
        self.done[r.kind] += 1
        if r.kind in ("sms-stop", "sms-reply"):
            body = "STOP" if r.kind == "sms-stop" else SMS_REPLY
            origin = self.app.settings.sms.twilio.from_number or "renraku"
            delivery_events.inbound_sms(self.app, "simulator", ep.address, origin, body)
            if r.kind == "sms-stop":
                return
        now = self.app.now_iso()
        with self.app.store.begin() as conn:
            if r.kind == "email-unsubscribe":
                if dv.opt_out_endpoint(conn, r.app_id, ep.id, now=now):
                    event_store.append(
                        conn, r.app_id, "endpoint.opted_out", occurred_at=now,
                        user_id=ep.user_id, endpoint_id=ep.id, data={"Source": "EMAIL"},
                    )  # fmt: skip
                return
            if r.kind == "email-click":
                event_store.append(
                    conn, r.app_id, "email.clicked", occurred_at=now, user_id=ep.user_id,
                    endpoint_id=ep.id, send_key=r.key, data={},
                )  # fmt: skip
            call_service.mark_reached(
                conn, r.app_id, user_id=ep.user_id, endpoint_id=ep.id, address=ep.address,
                status="COMPLETED", at=now,
            )  # fmt: skip
