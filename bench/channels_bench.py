"""Channels benchmark: messages through the whole send pipeline to real local servers.

EMAIL goes to an aiosmtpd server on 127.0.0.1 (one SMTP session per batch), SMS to the
Twilio-compatible simulator through the ``twilio`` library (status callbacks off). Each message
takes the full path: idempotency lookup, fresh endpoint and suppression check, template render,
rate-limit bucket (unlimited here), transport, provider-message record and event.
Also measured: template rendering and SMS segment counting alone.

Usage: ``python bench/channels_bench.py [--messages N] [--db URL] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from pydantic import SecretStr

from renraku.channels.base import Delivery
from renraku.channels.config import (
    EmailSettings,
    PolicySettings,
    SmsSettings,
    SmtpSettings,
    TwilioSettings,
    WebhookSettings,
)
from renraku.channels.email_smtp import SmtpTransport
from renraku.channels.pipeline import PolicedChannel
from renraku.channels.sms_twilio import TwilioTransport
from renraku.domain.endpoints import Endpoint
from renraku.domain.sms_encoding import measure
from renraku.domain.templates import render
from renraku.simulators.twilio import running
from renraku.store import Store
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import templates as template_store

NOW = "2026-11-26T03:00:00.000Z"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _setup(store: Store, n: int) -> tuple[str, list[Endpoint], list[Endpoint]]:
    with store.begin() as conn:
        app_id = str(app_store.create_app(conn, f"bench-{uuid.uuid4().hex[:6]}", now=NOW)["Id"])
        template_store.put(
            conn,
            app_id,
            "notice",
            "EMAIL",
            {
                "Subject": "{{User.UserAttributes.FirstName}}様へのお知らせ",
                "TextPart": "状態: {{Attributes.CallStatus}}\n宛先: {{Address}}",
                "HtmlPart": "<p>{{User.UserAttributes.FirstName}}様</p>",
            },
            now=NOW,
        )
        template_store.put(
            conn,
            app_id,
            "sms",
            "SMS",
            {"Body": "{{User.UserAttributes.FirstName}}様、お電話がつながりませんでした。"},
            now=NOW,
        )
        emails, phones = [], []
        for i in range(n):
            common: dict[str, Any] = {
                "user_id": f"U{i}",
                "attributes": {"CallStatus": ["Pending"]},
                "user_attributes": {"FirstName": ["太郎"]},
                "creation_date": NOW,
            }
            emails.append(Endpoint(app_id, f"e{i}", "EMAIL", f"user{i}@example.jp", **common))
            phones.append(Endpoint(app_id, f"s{i}", "SMS", f"+81901{i:07d}", **common))
        endpoint_store.upsert_many(conn, emails + phones)
    return app_id, emails, phones


def _deliveries(endpoints: list[Endpoint], template: str) -> list[Delivery]:
    return [
        Delivery(f"bench:{e.id}:{uuid.uuid4().hex[:6]}", e.app_id, e.channel_type, e, template)
        for e in endpoints
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--db", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="renraku-bench-")
    store = Store.open(args.db or f"sqlite:///{Path(tmp) / 'bench.db'}")
    n = args.messages
    _, emails, phones = _setup(store, n)
    figures: dict[str, Any] = {"messages": n, "dialect": store.dialect}

    port = _port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        email = PolicedChannel(
            SmtpTransport(EmailSettings(provider="smtp", smtp=SmtpSettings(port=port))),
            store,
            PolicySettings(),
            WebhookSettings(),
        )
        started = time.perf_counter()
        results = []
        for i in range(0, n, 100):
            results += email.deliver(_deliveries(emails[i : i + 100], "notice"))
        elapsed = time.perf_counter() - started
        assert all(r.outcome == "sent" for r in results), results[:3]
        figures["email_smtp_per_second"] = round(n / elapsed, 1)
    finally:
        controller.stop()

    with running(auth_token="bench") as sim:
        sms_settings = SmsSettings(
            provider="twilio",
            twilio=TwilioSettings(
                account_sid=sim.state.account_sid,
                auth_token=SecretStr("bench"),
                from_number="+815012345678",
                base_url=sim.url,
                status_callback=False,
            ),
        )
        sms = PolicedChannel(
            TwilioTransport(sms_settings, WebhookSettings()),
            store,
            PolicySettings(),
            WebhookSettings(),
        )
        started = time.perf_counter()
        results = sms.deliver(_deliveries(phones, "sms"))
        elapsed = time.perf_counter() - started
        assert all(r.outcome == "sent" for r in results), results[:3]
        figures["sms_twilio_simulator_per_second"] = round(n / elapsed, 1)

    parts = {
        "Subject": "{{User.UserAttributes.FirstName}}様",
        "TextPart": "{{Attributes.CallStatus}} {{Address}}",
    }
    started = time.perf_counter()
    for e in emails:
        render("EMAIL", parts, e)
    figures["template_renders_per_second"] = round(n / (time.perf_counter() - started), 1)
    text = "お電話がつながりませんでした。折り返しお電話ください。" * 3
    started = time.perf_counter()
    for _ in range(n * 10):
        measure(text)
    figures["segment_counts_per_second"] = round(n * 10 / (time.perf_counter() - started), 1)
    store.close()
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:36} {value}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
