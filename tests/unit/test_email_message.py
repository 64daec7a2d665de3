"""Building the MIME message: encodings, RFC 8058 headers, links, template headers."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any

import pytest

from renraku.channels.base import Delivery
from renraku.channels.email_message import build
from renraku.channels.pipeline import Outgoing
from renraku.channels.policies import ProviderError
from renraku.domain.endpoints import Endpoint

EP = Endpoint(app_id="a", id="e1", channel_type="EMAIL", address="taro@example.jp")
URL = "https://r.example/hooks/unsubscribe/a/e1?t=abc&x=1"


def _item(
    parts: dict[str, str], headers: tuple[dict[str, str], ...] = (), **config: Any
) -> Outgoing:
    d = Delivery(key="k", app_id="a", channel="EMAIL", endpoint=EP, config=config)
    return Outgoing(d, EP, parts, headers, URL)


def _reparse(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_japanese_subject_is_encoded_on_the_wire_and_decodes_back() -> None:
    msg = build(
        _item({"Subject": "重要なお知らせ", "TextPart": "本文です"}), "送信者 <n@r.example>"
    )
    wire = msg.as_bytes()
    assert "重要".encode() not in wire.split(b"\n\n", 1)[0]  # headers are ASCII (RFC 2047)
    parsed = _reparse(msg)
    assert str(parsed["Subject"]) == "重要なお知らせ"
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().startswith("本文です")


def test_marketing_mail_gets_both_unsubscribe_targets_and_visible_links() -> None:
    parts = {"Subject": "s", "TextPart": "hello", "HtmlPart": "<html><body><p>hi</p></body></html>"}
    msg = _reparse(build(_item(parts), "n@r.example", unsubscribe_mailto="unsub@r.example"))
    assert msg["List-Unsubscribe"] == f"<{URL}>, <mailto:unsub@r.example?subject=unsubscribe>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html_part = msg.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert html.index("Unsubscribe</a>") < html.index("</body>")
    assert "t=abc&amp;x=1" in html


def test_a_template_that_places_the_link_itself_gets_no_second_one() -> None:
    parts = {"Subject": "s", "TextPart": f"stop here: {URL}"}
    msg = _reparse(build(_item(parts), "n@r.example"))
    text = msg.get_body(preferencelist=("plain",))
    assert text is not None
    assert text.get_content().count(URL) == 1


def test_activity_sender_and_template_headers_are_used() -> None:
    headers = ({"Name": "X-Campaign", "Value": "秋のお知らせ"},)
    msg = _reparse(
        build(
            _item({"Subject": "s", "TextPart": "t"}, headers, FromAddress="info@x.example"),
            "n@r.example",
        )
    )
    assert msg["From"] == "info@x.example"
    assert msg["X-Campaign"] == "秋のお知らせ"


@pytest.mark.parametrize("name", ["Bcc", "From", "List-Unsubscribe", "X Bad"])
def test_templates_may_not_set_reserved_or_malformed_headers(name: str) -> None:
    with pytest.raises(ProviderError, match="may not be set") as caught:
        build(
            _item({"Subject": "s", "TextPart": "t"}, ({"Name": name, "Value": "v"},)), "n@r.example"
        )
    assert caught.value.permanent


def test_an_unusable_sender_or_recipient_is_a_permanent_failure() -> None:
    with pytest.raises(ProviderError, match="sender"):
        build(_item({"Subject": "s", "TextPart": "t"}), "not-an-address")
    bad = Endpoint(app_id="a", id="e2", channel_type="EMAIL", address="a@b.c\r\nBcc: x@y.z")
    item = Outgoing(Delivery("k", "a", "EMAIL", bad), bad, {"Subject": "s"}, (), None)
    with pytest.raises(ProviderError, match="recipient") as caught:
        build(item, "n@r.example")
    assert caught.value.bounce
