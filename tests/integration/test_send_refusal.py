"""The send-time refusal every transport applies, read fresh from the store (both dialects)."""

from __future__ import annotations

from channel_support import NOW, add_endpoint, make_app

from renraku.channels.policies import refusal
from renraku.store import Store
from renraku.store import deliverability as dv


def test_refusal_reads_opt_out_status_and_suppressions_per_channel(store: Store) -> None:
    app_id = make_app(store)
    phone = add_endpoint(store, app_id, "VOICE", "+819011111111")
    sms = add_endpoint(store, app_id, "SMS", "+819011111111")
    assert refusal(store, app_id, phone.id, "VOICE") is None
    with store.begin() as conn:
        dv.suppress(conn, app_id, "+819011111111", "STOP", now=NOW)
    assert refusal(store, app_id, phone.id, "VOICE") is None  # a STOP reply stops SMS only
    assert refusal(store, app_id, sms.id, "SMS") == "the address is on the suppression list (STOP)"
    with store.begin() as conn:
        dv.unsuppress(conn, app_id, "+819011111111")
        dv.suppress(conn, app_id, "+819011111111", "MANUAL", now=NOW)
        dv.opt_out_endpoint(conn, app_id, sms.id, now=NOW)
    assert (
        refusal(store, app_id, phone.id, "VOICE")
        == "the address is on the suppression list (MANUAL)"
    )
    assert refusal(store, app_id, sms.id, "SMS") == "the endpoint has opted out (OptOut=ALL)"
    assert refusal(store, app_id, "missing", "VOICE") == "the endpoint no longer exists"
