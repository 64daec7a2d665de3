"""``renraku webhooks``: the application's signing secret for custom-channel webhooks."""

from __future__ import annotations

from typing import Annotated

import typer

from renraku.cli.common import JsonOpt, console, emit, state
from renraku.store import deliverability as dv

group = typer.Typer(help="Custom-channel webhooks: the signing secret.", no_args_is_help=True)


@group.command("secret")
def secret(
    ctx: typer.Context,
    rotate: Annotated[
        bool,
        typer.Option(
            "--rotate", help="Replace the secret (old links and signatures stop working)."
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show the secret that signs webhook bodies (X-Renraku-Signature: sha256=HMAC of the body).

    The same secret signs unsubscribe links, so rotating it also invalidates links already sent.
    """
    st = state(ctx)
    app_id = st.app_id()
    with st.app.store.begin() as conn:
        now = st.app.now_iso()
        value = (
            dv.rotate_secret(conn, app_id, now=now)
            if rotate
            else dv.app_secret(conn, app_id, now=now)
        )
    out = {
        "ApplicationId": app_id,
        "Secret": value,
        "Header": "X-Renraku-Signature",
        "Algorithm": "HMAC-SHA256",
    }
    emit(out, json_out, lambda: console.print(value, markup=False, highlight=False))
