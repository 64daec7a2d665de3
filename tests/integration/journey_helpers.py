"""Building blocks for journey tests: an App on the virtual clock with recording transports, the
seed's customers, segments and templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from renraku.app import App, build_app
from renraku.channels import recording
from renraku.domain.endpoints import Endpoint
from renraku.engine.config import JourneySettings
from renraku.settings import ClockSettings, Settings
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store
from renraku.store import templates as template_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PENDING_EMAIL = {
    "Dimensions": {
        "Demographic": {"Channel": {"DimensionType": "INCLUSIVE", "Values": ["EMAIL"]}},
        "Attributes": {"CallStatus": {"AttributeType": "INCLUSIVE", "Values": ["PENDING"]}},
    }
}


def journey_app(db_url: str, start: str = "2026-03-05T01:00:00.000Z", **journeys: Any) -> App:
    settings = Settings(
        db=db_url,
        clock=ClockSettings(mode="virtual", virtual_start=start),
        journeys=JourneySettings(record_channels=["VOICE", "SMS", "EMAIL", "CUSTOM"], **journeys),
    )
    return build_app(settings)


def seed_customers(
    app: App,
    n: int,
    *,
    call_channel: str = "VOICE",
    timezone: str | None = None,
    phone_prefix: str = "+8190",
) -> tuple[str, list[str]]:
    """An application with ``n`` users, each with a call endpoint, SMS and EMAIL, CallStatus
    PENDING; the imported segment ``seed-customers``, the dynamic ``seed-pending-email`` and the
    seed's templates. Returns (app id, user ids)."""
    now = app.now_iso()
    users = [f"User{i}" for i in range(1, n + 1)]
    with app.store.begin() as conn:
        app_id = app_store.create_app(conn, "seed", now=now)["Id"]
        eps: list[Endpoint] = []
        demographic = {"Timezone": timezone} if timezone else {}
        for i, user in enumerate(users, start=1):
            phone = f"{phone_prefix}{i:08d}"
            for channel, address in (
                (call_channel, phone),
                ("SMS", phone),
                ("EMAIL", f"u{i}@example.com"),
            ):
                eps.append(
                    Endpoint(
                        app_id=app_id,
                        id=f"{user}-{channel}",
                        channel_type=channel,
                        address=address,
                        user_id=user,
                        attributes={"CallStatus": ["PENDING"], "Index": [f"{user}-{channel}"]},
                        demographic=demographic,
                        creation_date=now,
                        effective_date=now,
                    )
                )
        endpoint_store.upsert_many(conn, eps)
        seg = segment_store.import_segment_for(
            conn, app_id, "seed-customers", now=now, import_definition={"Format": "CSV"}
        )
        segment_store.add_members(conn, app_id, seg, [e.id for e in eps])
        segment_store.create_dimensional(
            conn, app_id, name="seed-pending-email", definition=PENDING_EMAIL, tags={}, now=now
        )
        template_store.put(
            conn, app_id, "seed-sms", "SMS", {"Body": "Please call us back."}, now=now
        )
        template_store.put(
            conn,
            app_id,
            "seed-email",
            "EMAIL",
            {"Subject": "About your contract", "TextPart": "Please get in touch."},
            now=now,
        )
    return app_id, users


def voice_seed_journey() -> dict[str, Any]:
    """The seed's journey with a VOICE call that marks users who press 1 as reached."""
    d = json.loads((EXAMPLES / "seed-journey.json").read_text())
    d["Activities"]["call"] = {
        "VOICE": {
            "ContactFlowId": "seed-press-one",
            "MarkReached": True,
            "NextActivity": "wait-call",
        }
    }
    d.pop("QuietTime")
    d.pop("Limits")
    return d


def press_one(app: App, addresses: list[str]) -> None:
    with app.store.begin() as conn:
        for a in addresses:
            recording.script(conn, a, "ANSWERED", digits="1", duration_seconds=45)


def delivered(app: App, channel: str) -> list[Any]:
    with app.store.connect() as conn:
        return recording.deliveries(conn, channel=channel)
