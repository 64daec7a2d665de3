"""The seed's journey (Pinpoint JSON) on the virtual clock with real providers behind it: SMS through
the twilio library to the Twilio-compatible simulator, email over SMTP to a local mailbox. Calls
(CUSTOM) are recorded; the test acts as the seed's status Lambda for the users who pressed 1."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from journey_helpers import EXAMPLES, seed_customers
from pydantic import SecretStr

from renraku.app import build_app
from renraku.channels.config import EmailSettings, SmsSettings, SmtpSettings, TwilioSettings
from renraku.channels.pipeline import PolicedChannel
from renraku.engine.config import JourneySettings
from renraku.engine.worker import Worker
from renraku.services import endpoints as endpoint_service
from renraku.services import journeys
from renraku.settings import ClockSettings, Settings
from renraku.simulators import mailbox
from renraku.simulators.twilio import running
from renraku.store import endpoints as endpoint_store
from renraku.store import events as event_store
from renraku.store import templates as template_store


def test_the_seed_journey_sends_real_sms_and_email_only_to_users_who_did_not_answer(
    sqlite_url: str, tmp_path: Path
) -> None:
    with running(auth_token="journey-token") as sim, mailbox.running(tmp_path / "mail") as box:
        settings = Settings(
            db=sqlite_url,
            clock=ClockSettings(mode="virtual", virtual_start="2026-03-05T01:00:00.000Z"),
            journeys=JourneySettings(record_channels=["VOICE", "CUSTOM"]),
            email=EmailSettings(provider="smtp", smtp=SmtpSettings(port=box.port)),
            sms=SmsSettings(
                provider="twilio",
                twilio=TwilioSettings(
                    account_sid=sim.state.account_sid,
                    auth_token=SecretStr("journey-token"),
                    from_number="+815012345678",
                    base_url=sim.url,
                    status_callback=False,
                ),
            ),
        )
        app = build_app(settings)
        try:
            assert isinstance(app.channels["SMS"], PolicedChannel)
            assert isinstance(app.channels["EMAIL"], PolicedChannel)
            app_id, users = seed_customers(app, 4, call_channel="CUSTOM")
            with app.store.begin() as conn:
                # Valid Japanese mobile numbers, so the SMS provider accepts them.
                sms_eps = [
                    replace(
                        endpoint_store.get(conn, app_id, f"{u}-SMS"), address=f"+8190100000{i:02d}"
                    )
                    for i, u in enumerate(users, start=1)
                ]
                endpoint_store.upsert_many(conn, sms_eps)
                template_store.put(
                    conn,
                    app_id,
                    "seed-sms",
                    "SMS",
                    {"Body": "{{User.UserId}}様、お電話がつながりませんでした。"},
                    now=app.now_iso(),
                )
                template_store.put(
                    conn,
                    app_id,
                    "seed-email",
                    "EMAIL",
                    {
                        "Subject": "{{User.UserId}}様へのご連絡",
                        "TextPart": "状態: {{Attributes.CallStatus}}",
                    },
                    now=app.now_iso(),
                )
            definition = json.loads((EXAMPLES / "seed-journey.json").read_text(encoding="utf-8"))
            created = journeys.create(app, app_id, definition)
            journeys.publish(app, app_id, created["Id"])
            worker = Worker(app)
            worker.run_for(timedelta(minutes=10))
            for user in users[:2]:  # they pressed 1: the seed's Lambda marks them
                for ep in endpoint_service.user_endpoints(app, app_id, user):
                    status = "COMPLETED" if ep.channel_type == "CUSTOM" else "CANCELED"
                    endpoint_service.update_endpoint(
                        app, app_id, ep.id, {"Attributes": {"CallStatus": [status]}}
                    )
            worker.run_for(timedelta(days=1))

            texts = sorted((m["to"], m["body"]) for m in sim.state.messages.values())
            assert texts == [
                ("+819010000003", "User3様、お電話がつながりませんでした。"),
                ("+819010000004", "User4様、お電話がつながりませんでした。"),
            ]
            mails = sorted((str(m["To"]), str(m["Subject"])) for m in box.messages)
            assert mails == [
                ("u3@example.com", "User3様へのご連絡"),
                ("u4@example.com", "User4様へのご連絡"),
            ]
            assert all(
                m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in box.messages
            )
            with app.store.connect() as conn:
                sent = [
                    (e["Kind"], e["Time"])
                    for e in event_store.timeline(conn, app_id, user_id="User3")
                    if e["Kind"] in ("sms.sent", "email.sent")
                ]
            assert [kind for kind, _ in sent] == ["sms.sent", "email.sent"]
            # the providers' sends are stamped in journey time (the virtual clock), not wall time
            assert all("2026-03-05T01:00" <= at <= "2026-03-07" for _, at in sent), sent
        finally:
            app.close()
