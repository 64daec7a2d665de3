"""Email through a real SMTP server (aiosmtpd on 127.0.0.1), parsed back with the stdlib parser."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from channel_support import add_endpoint, channel, delivery, events_of, free_port, make_app

from renraku.channels.config import EmailSettings, PolicySettings, RetrySettings, SmtpSettings
from renraku.channels.email_smtp import SmtpTransport
from renraku.domain.endpoints import Endpoint
from renraku.store import Store
from renraku.store import deliverability as dv
from renraku.store import templates as template_store


class Inbox:
    """Records every accepted message; refuses recipients at @bounce.invalid with 550."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.endswith("@bounce.invalid"):
            return "550 5.1.1 user unknown"
        if address.endswith("@busy.invalid"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _settings(port: int) -> EmailSettings:
    return EmailSettings(
        provider="smtp",
        from_address="お知らせ <notice@renraku.example>",
        smtp=SmtpSettings(host="127.0.0.1", port=port),
    )


def _template(store: Store, app_id: str) -> None:
    with store.begin() as conn:
        template_store.put(
            conn,
            app_id,
            "notice",
            "EMAIL",
            {
                "Subject": "{{User.UserAttributes.FirstName}}様：重要なお知らせ",
                "TextPart": "こんにちは {{User.UserAttributes.FirstName}} 様。状態: {{Attributes.CallStatus}}",
                "HtmlPart": "<html><body><p>{{User.UserAttributes.FirstName}} 様</p></body></html>",
            },
            now="2026-11-26T03:00:00.000Z",
        )


def _endpoint(store: Store, app_id: str, address: str, **fields: Any) -> Endpoint:
    return add_endpoint(
        store,
        app_id,
        "EMAIL",
        address,
        user_id="User1",
        attributes={"CallStatus": ["Pending"]},
        user_attributes={"FirstName": ["太郎"]},
        **fields,
    )


def test_japanese_email_is_delivered_and_decodes_with_a_real_mail_parser(
    store: Store, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    app_id = make_app(store)
    _template(store, app_id)
    ep = _endpoint(store, app_id, "taro@example.jp")
    results = channel(SmtpTransport(_settings(port)), store).deliver([delivery(ep, "notice")])

    assert [r.outcome for r in results] == ["sent"]
    envelope, msg = inbox.messages[0]
    assert envelope.rcpt_tos == ["taro@example.jp"]
    assert str(msg["Subject"]) == "太郎様：重要なお知らせ"
    assert msg["From"].addresses[0].display_name == "お知らせ"
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    assert text_part is not None
    assert html_part is not None
    assert "こんにちは 太郎 様。状態: Pending" in text_part.get_content()
    assert "太郎 様" in html_part.get_content()
    assert results[0].provider_message_id == msg["Message-ID"]


def test_marketing_email_carries_rfc8058_headers_and_a_visible_unsubscribe_link(
    store: Store, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    app_id = make_app(store)
    _template(store, app_id)
    ep = _endpoint(store, app_id, "taro@example.jp")
    channel(SmtpTransport(_settings(port)), store).deliver([delivery(ep, "notice")])

    msg = inbox.messages[0][1]
    link = str(msg["List-Unsubscribe"]).strip("<>")
    assert link.startswith(f"https://renraku.example/hooks/unsubscribe/{app_id}/{ep.id}?t=")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    assert text_part is not None
    assert link in text_part.get_content()
    assert html_part is not None
    assert link.replace("&", "&amp;") in html_part.get_content()


def test_transactional_email_has_no_unsubscribe_headers(
    store: Store, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    app_id = make_app(store)
    _template(store, app_id)
    ep = _endpoint(store, app_id, "taro@example.jp")
    channel(SmtpTransport(_settings(port)), store).deliver(
        [delivery(ep, "notice", MessageType="TRANSACTIONAL")]
    )
    assert inbox.messages[0][1]["List-Unsubscribe"] is None


def test_sent_email_is_recorded_as_an_event_with_the_send_key_and_never_sent_twice(
    store: Store, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    app_id = make_app(store)
    _template(store, app_id)
    ep = _endpoint(store, app_id, "taro@example.jp")
    d = delivery(ep, "notice")
    ch = channel(SmtpTransport(_settings(port)), store)
    first = ch.deliver([d])
    again = ch.deliver([d])

    assert len(inbox.messages) == 1
    assert again[0].outcome == "sent"
    assert again[0].provider_message_id == first[0].provider_message_id
    kinds = [(e["Kind"], e["SendKey"]) for e in events_of(store, app_id, ep.id)]
    assert kinds == [("email.sent", d.key)]
    assert ch.lookup(d.key) is not None
    assert ch.lookup("unknown-key") is None


def test_hard_bounce_fails_only_that_endpoint_and_suppresses_its_address(
    store: Store, smtp_server: tuple[Inbox, int]
) -> None:
    _inbox, port = smtp_server
    app_id = make_app(store)
    _template(store, app_id)
    bad = _endpoint(store, app_id, "nobody@bounce.invalid")
    good = _endpoint(store, app_id, "hanako@example.jp")
    results = channel(SmtpTransport(_settings(port)), store).deliver(
        [delivery(bad, "notice"), delivery(good, "notice")]
    )
    assert [r.outcome for r in results] == ["failed", "sent"]
    assert results[0].permanent is True
    assert results[0].reason is not None
    assert "550" in results[0].reason
    assert [e["Kind"] for e in events_of(store, app_id, bad.id)] == ["email.bounced"]
    with store.connect() as conn:
        assert dv.suppressed(conn, app_id, ["NOBODY@bounce.invalid"]) == {
            "nobody@bounce.invalid": "BOUNCE"
        }


def test_temporary_refusal_is_retried_with_backoff_then_reported_as_transient(
    store: Store, smtp_server: tuple[Inbox, int]
) -> None:
    _, port = smtp_server
    app_id = make_app(store)
    _template(store, app_id)
    ep = _endpoint(store, app_id, "later@busy.invalid")
    sleeps: list[float] = []
    policies = PolicySettings(retry=RetrySettings(max_attempts=3, base_delay_seconds=0.2))
    results = channel(
        SmtpTransport(_settings(port)), store, policies=policies, sleeps=sleeps
    ).deliver([delivery(ep, "notice")])
    assert results[0].outcome == "failed"
    assert results[0].permanent is False
    assert results[0].reason is not None
    assert "after 3 attempts" in results[0].reason
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.2
    assert 0 <= sleeps[1] <= 0.4


def test_opted_out_and_suppressed_endpoints_are_not_sent_at_send_time(
    store: Store, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    app_id = make_app(store)
    _template(store, app_id)
    opted = _endpoint(store, app_id, "a@example.jp")
    listed = _endpoint(store, app_id, "b@example.jp")
    # The deliveries carry a stale snapshot (OptOut NONE); the store says otherwise now.
    with store.begin() as conn:
        dv.opt_out_endpoint(conn, app_id, opted.id, now="2026-11-26T03:00:01.000Z")
        dv.suppress(conn, app_id, "B@example.jp", "COMPLAINT", now="2026-11-26T03:00:01.000Z")
    results = channel(SmtpTransport(_settings(port)), store).deliver(
        [delivery(opted, "notice"), delivery(listed, "notice")]
    )
    assert inbox.messages == []
    assert [r.outcome for r in results] == ["failed", "failed"]
    assert "opted out" in (results[0].reason or "")
    assert "suppression list (COMPLAINT)" in (results[1].reason or "")
    assert [e["Kind"] for e in events_of(store, app_id, opted.id)] == ["email.suppressed"]


def test_a_template_that_fails_for_one_endpoint_does_not_stop_the_others(
    store: Store, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    app_id = make_app(store)
    with store.begin() as conn:
        template_store.put(
            conn,
            app_id,
            "math",
            "EMAIL",
            {"Subject": "s", "TextPart": "{{ Attributes.N | int // (Attributes.D | int) }}"},
            now="2026-11-26T03:00:00.000Z",
        )
    zero = add_endpoint(
        store, app_id, "EMAIL", "zero@example.jp", attributes={"N": ["1"], "D": ["0"]}
    )
    one = add_endpoint(
        store, app_id, "EMAIL", "one@example.jp", attributes={"N": ["4"], "D": ["2"]}
    )
    results = channel(SmtpTransport(_settings(port)), store).deliver(
        [delivery(zero, "math"), delivery(one, "math"), delivery(one, "missing-template")]
    )
    assert [r.outcome for r in results] == ["failed", "sent", "failed"]
    assert "ZeroDivisionError" in (results[0].reason or "")
    assert "not found" in (results[2].reason or "")
    assert len(inbox.messages) == 1


def test_smtp_server_that_cannot_be_reached_is_a_transient_failure(store: Store) -> None:
    app_id = make_app(store)
    _template(store, app_id)
    ep = _endpoint(store, app_id, "taro@example.jp")
    settings = EmailSettings(
        provider="smtp", smtp=SmtpSettings(host="127.0.0.1", port=1, timeout_seconds=2)
    )
    results = channel(SmtpTransport(settings), store).deliver([delivery(ep, "notice")])
    assert results[0].outcome == "failed"
    assert results[0].permanent is False
    assert "cannot reach SMTP server 127.0.0.1:1" in (results[0].reason or "")


def test_pinpoint_message_config_of_the_activity_sets_sender_and_message_type(
    store: Store, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    app_id = make_app(store)
    _template(store, app_id)
    ep = _endpoint(store, app_id, "taro@example.jp")
    activity = {
        "MessageConfig": {"FromAddress": "info@example.com", "MessageType": "TRANSACTIONAL"}
    }
    channel(SmtpTransport(_settings(port)), store).deliver([delivery(ep, "notice", **activity)])
    envelope, msg = inbox.messages[0]
    assert envelope.mail_from == "info@example.com"
    assert msg["List-Unsubscribe"] is None


def test_variables_without_value_or_default_are_named_in_the_sent_event(
    store: Store, smtp_server: tuple[Inbox, int]
) -> None:
    _, port = smtp_server
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "EMAIL", "x@example.jp")
    [result] = channel(SmtpTransport(_settings(port)), store).deliver(
        [delivery(ep, Subject="Hi {{User.UserAttributes.FirstName}}", TextPart="t")]
    )
    assert result.outcome == "sent"
    assert result.data["MissingVariables"] == ["User.UserAttributes.FirstName"]
    assert events_of(store, app_id, ep.id)[0]["Data"]["MissingVariables"] == [
        "User.UserAttributes.FirstName"
    ]
