"""Opt-out by link, end to end: the link in a real email, GET confirms, POST one-click opts out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from channel_support import (
    add_endpoint,
    channel,
    delivery,
    events_of,
    hooks_api,
    make_app,
    make_renraku,
    serve,
)

from renraku.channels.config import EmailSettings, SmtpSettings
from renraku.channels.email_smtp import SmtpTransport
from renraku.settings import Settings
from renraku.simulators import mailbox
from renraku.simulators.mailbox import Mailbox
from renraku.store import Store
from renraku.store import deliverability as dv
from renraku.store import endpoints as endpoint_store


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[Mailbox, int]]:
    with mailbox.running(tmp_path / "mail") as box:
        yield box, box.port


@pytest.fixture
def hooks(store: Store) -> Iterator[str]:
    with serve(hooks_api(make_renraku(store, Settings(db="sqlite://")))) as url:
        yield url


def _send(store: Store, port: int, hooks_url: str, ep: Any) -> str:
    settings = EmailSettings(provider="smtp", smtp=SmtpSettings(host="127.0.0.1", port=port))
    ch = channel(SmtpTransport(settings), store, public_url=hooks_url)
    [result] = ch.deliver([delivery(ep, Subject="お知らせ", TextPart="本文")])
    assert result.outcome == "sent"
    return hooks_url


def _link(box: Mailbox) -> str:
    return str(box.messages[-1]["List-Unsubscribe"]).strip("<>")


def test_following_the_emailed_link_and_confirming_opts_the_endpoint_out(
    store: Store, smtp: tuple[Mailbox, int], hooks: str, tmp_path: Path
) -> None:
    handler, port = smtp
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "EMAIL", "taro@example.jp", user_id="User1")
    _send(store, port, hooks, ep)
    link = _link(handler)

    page = httpx.get(link)
    assert page.status_code == 200
    assert "taro@example.jp" in page.text
    assert 'method="post"' in page.text
    with store.connect() as conn:
        assert endpoint_store.get(conn, app_id, ep.id).opt_out == "NONE"  # GET changes nothing

    # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the header's URL.
    done = httpx.post(link, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    with store.connect() as conn:
        assert endpoint_store.get(conn, app_id, ep.id).opt_out == "ALL"
        assert dv.suppressed(conn, app_id, [ep.address]) == {ep.address: "UNSUBSCRIBE"}
    opted = [e for e in events_of(store, app_id, ep.id) if e["Kind"] == "endpoint.opted_out"]
    assert opted[0]["Data"]["Source"] == "one-click"

    settings = EmailSettings(provider="smtp", smtp=SmtpSettings(host="127.0.0.1", port=port))
    [again] = channel(SmtpTransport(settings), store, public_url=hooks).deliver(
        [delivery(ep, Subject="s", TextPart="t")]
    )
    assert again.outcome == "failed"
    assert len(handler.messages) == 1
    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == ["000001.eml"]


def test_a_forged_or_altered_link_is_refused_and_changes_nothing(
    store: Store, smtp: tuple[Mailbox, int], hooks: str
) -> None:
    handler, port = smtp
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "EMAIL", "a@example.jp")
    other = add_endpoint(store, app_id, "EMAIL", "b@example.jp")
    _send(store, port, hooks, ep)
    link = _link(handler)
    forged = link.replace(ep.id, other.id)

    assert httpx.post(forged, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert httpx.get(link.split("?")[0] + "?t=0000").status_code == 404
    assert httpx.post(link.replace(app_id, "no-such-app")).status_code == 404
    with store.connect() as conn:
        assert endpoint_store.get(conn, app_id, other.id).opt_out == "NONE"
        assert endpoint_store.get(conn, app_id, ep.id).opt_out == "NONE"


def test_public_url_setting_decides_the_host_of_the_link(
    store: Store, smtp: tuple[Mailbox, int]
) -> None:
    handler, port = smtp
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "EMAIL", "c@example.jp")
    _send(store, port, "https://mail.example.org/base", ep)
    assert _link(handler).startswith(
        f"https://mail.example.org/base/hooks/unsubscribe/{app_id}/{ep.id}?t="
    )


def test_the_server_app_serves_the_one_click_unsubscribe(sqlite_url: str, tmp_path: Path) -> None:
    from api_support import live_server
    from api_support import make_app as make_api_app

    from renraku.channels import unsubscribe
    from renraku.store import deliverability as dv

    app = make_api_app(sqlite_url, tmp_path)
    try:
        app_id = make_app(app.store)
        ep = add_endpoint(app.store, app_id, "EMAIL", "served@example.jp")
        with app.store.begin() as conn:
            secret = dv.app_secret(conn, app_id, now=app.now_iso())
        with live_server(app) as url:
            link = unsubscribe.url(url, secret, app_id, ep.id)
            response = httpx.post(link, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        with app.store.connect() as conn:
            assert endpoint_store.get(conn, app_id, ep.id).opt_out == "ALL"
    finally:
        app.close()
