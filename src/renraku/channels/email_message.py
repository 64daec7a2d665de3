"""Build the MIME message of an email send: UTF-8 parts, encoded headers, RFC 8058 headers.

Marketing mail (the default; an activity may set ``MessageType = "TRANSACTIONAL"``) carries
``List-Unsubscribe`` (the one-click HTTPS link, and a mailto if configured) and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``, and a visible link when the template does
not place ``{{UnsubscribeUrl}}`` itself.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from renraku.channels.pipeline import Outgoing, message_setting
from renraku.channels.policies import ProviderError

RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Bcc",
        "Cc",
        "Sender",
        "Return-Path",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    )
)


def is_marketing(item: Outgoing) -> bool:
    kind = message_setting(item.delivery.config, "MessageType") or "MARKETING"
    return str(kind).upper() != "TRANSACTIONAL"


def build(
    item: Outgoing, default_from: str, *, unsubscribe_mailto: str | None = None
) -> EmailMessage:
    """The message for ``item``; ProviderError(permanent) for an unusable sender or recipient."""
    sender = str(message_setting(item.delivery.config, "FromAddress") or default_from)
    if "@" not in parseaddr(sender)[1]:
        raise ProviderError(f"sender {sender!r} is not an email address", permanent=True)
    if "@" not in item.endpoint.address or any(c in item.endpoint.address for c in "\r\n<>,"):
        raise ProviderError(
            f"recipient {item.endpoint.address!r} is not an email address",
            permanent=True,
            bounce=True,
        )
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = item.endpoint.address
    msg["Subject"] = item.parts.get("Subject", "")
    msg["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    text = item.parts.get("TextPart")
    body_html = item.parts.get("HtmlPart")
    marketing = is_marketing(item) and item.unsubscribe_url is not None
    if marketing and item.unsubscribe_url:
        links = [f"<{item.unsubscribe_url}>"]
        if unsubscribe_mailto:
            links.append(f"<mailto:{unsubscribe_mailto}?subject=unsubscribe>")
        msg["List-Unsubscribe"] = ", ".join(links)
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        url = item.unsubscribe_url
        if text is not None and url not in text:
            text = f"{text.rstrip()}\n\n--\nUnsubscribe: {url}\n"
        if body_html is not None and html.escape(url) not in body_html and url not in body_html:
            link = f'<p style="font-size:small"><a href="{html.escape(url)}">Unsubscribe</a></p>'
            body_html = (
                body_html.replace("</body>", link + "</body>", 1)
                if "</body>" in body_html
                else body_html + link
            )
    for header in item.headers:
        name = header["Name"]
        if name.lower() in RESERVED_HEADERS or not name.replace("-", "").isalnum():
            raise ProviderError(f"template header {name!r} may not be set", permanent=True)
        msg[name] = header["Value"]
    if text is None and body_html is None:
        text = ""
    if text is not None:
        msg.set_content(text, subtype="plain", charset="utf-8")
        if body_html is not None:
            msg.add_alternative(body_html, subtype="html", charset="utf-8")
    else:
        msg.set_content(body_html or "", subtype="html", charset="utf-8")
    return msg


def sender_address(msg: EmailMessage) -> str:
    return parseaddr(str(msg["From"]))[1]


__all__ = ["build", "is_marketing", "sender_address"]
