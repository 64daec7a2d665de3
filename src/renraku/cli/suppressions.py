"""``renraku suppressions``: the addresses no message goes to (bounces, complaints, STOP, links)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, state
from renraku.store import deliverability as dv

group = typer.Typer(help="The application's suppression list.", no_args_is_help=True)


@group.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List suppressed addresses with why and since when."""
    st = state(ctx)
    app_id = st.app_id()
    with st.app.store.connect() as conn:
        items = dv.list_suppressions(conn, app_id)

    def render() -> None:
        table = Table("Address", "Reason", "Since", "Detail")
        for item in items:
            table.add_row(item["Address"], item["Reason"], item["CreatedAt"], item["Detail"] or "")
        console.print(table)

    emit({"Item": items}, json_out, render)


@group.command("add")
def add(
    ctx: typer.Context,
    address: str,
    detail: Annotated[str | None, typer.Option(help="A note kept with the entry.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Suppress an address (reason MANUAL)."""
    st = state(ctx)
    app_id = st.app_id()
    with st.app.store.begin() as conn:
        added = dv.suppress(conn, app_id, address, "MANUAL", now=st.app.now_iso(), detail=detail)
    out = {"Address": dv.normalise_address(address), "Added": added}
    emit(out, json_out, lambda: console.print("added" if added else "already suppressed"))


@group.command("remove")
def remove(ctx: typer.Context, address: str, json_out: JsonOpt = False) -> None:
    """Remove an address from the list (its endpoints' OptOut is left as it is)."""
    st = state(ctx)
    app_id = st.app_id()
    with st.app.store.begin() as conn:
        removed = dv.unsuppress(conn, app_id, address)
    out = {"Address": dv.normalise_address(address), "Removed": removed}
    emit(out, json_out, lambda: console.print("removed" if removed else "was not suppressed"))
