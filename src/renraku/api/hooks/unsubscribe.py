"""Unsubscribe links: GET shows a confirmation (mail scanners follow links, so GET changes
nothing), POST opts out (RFC 8058 one-click, ``List-Unsubscribe=One-Click``, or the page's button)."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from renraku.api.hooks.common import app_of
from renraku.errors import InvalidInput, NotFound
from renraku.services import delivery_events

router = APIRouter()

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 36rem; margin: 3rem auto">
<h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


@router.get("/unsubscribe/{app_id}/{endpoint_id}")
async def confirm(request: Request, app_id: str, endpoint_id: str, t: str = "") -> HTMLResponse:
    try:
        target = await run_in_threadpool(
            delivery_events.unsubscribe_target, app_of(request), app_id, endpoint_id, t
        )
    except (InvalidInput, NotFound):
        return _page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    address = html.escape(str(target["Address"]))
    if target["OptOut"] == "ALL":
        return _page("Unsubscribed", f"<p>{address} is already unsubscribed.</p>")
    form = (
        f"<p>Stop all messages to <strong>{address}</strong>?</p>"
        f'<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">Unsubscribe</button></form>'
    )
    return _page("Unsubscribe", form)


@router.post("/unsubscribe/{app_id}/{endpoint_id}")
async def one_click(request: Request, app_id: str, endpoint_id: str, t: str = "") -> HTMLResponse:
    form = await request.form()
    source = "one-click" if form.get("List-Unsubscribe") == "One-Click" else "link"
    try:
        await run_in_threadpool(
            delivery_events.unsubscribe,
            app_of(request),
            app_id,
            endpoint_id,
            t,
            source=source,
        )
    except (InvalidInput, NotFound):
        return _page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    return _page("Unsubscribed", "<p>You will receive no further messages at this address.</p>")
