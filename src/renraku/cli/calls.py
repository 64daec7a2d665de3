"""``renraku calls``: the record of every call placed (or refused)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, state
from renraku.errors import Conflict, InvalidInput, Problem
from renraku.services import calls as service

group = typer.Typer(
    help="Call records: outcome, digits, transcript, flow path.", no_args_is_help=True
)


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table("Id", "Number", "User", "Placed", "Outcome", "Digits", "Reason")
    for r in rows:
        table.add_row(
            r["Id"],
            r["CustomerAddress"],
            r["UserId"] or "",
            r["PlacedAt"],
            r["Outcome"] or r["Status"],
            r["Digits"],
            r["Reason"] or "",
        )
    return table


@group.command("list")
def list_(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this User.UserId.")] = None,
    outcome: Annotated[
        str | None, typer.Option(help="ANSWERED, NO_ANSWER, BUSY, VOICEMAIL or FAILED.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    json_out: JsonOpt = False,
) -> None:
    """List calls, newest first."""
    st = state(ctx)
    rows = service.list_calls(st.app, st.app_id(), user_id=user, outcome=outcome, limit=limit)
    emit({"Calls": rows}, json_out, lambda: console.print(_table(rows)))


@group.command("show")
def show(
    ctx: typer.Context,
    call_id: Annotated[str, typer.Argument(help="Call (contact) id.")],
    json_out: JsonOpt = False,
) -> None:
    """Show one call: times, outcome, digits, every prompt heard, attributes and flow path."""
    st = state(ctx)
    call = service.show_call(st.app, st.app_id(), call_id)

    def render() -> None:
        console.print(_table([call]))
        for entry in call["Transcript"]:
            what = entry.get("Text") or entry.get("Digits") or entry.get("Function") or ""
            if entry["Kind"] == "Say":
                what = f"[{entry.get('Voice')}, heard: {entry.get('Heard', 'sent')}] {what}"
            elif entry["Kind"] == "Input" and entry.get("TimedOut"):
                what = "(time-out)"
            elif entry["Kind"] == "Function":
                what += " ok" if entry.get("Ok") else f" failed: {entry.get('Error')}"
            console.print(f"  {entry.get('At', '')}  {entry['Kind']:<10} {what}", markup=False)
        attrs = ", ".join(f"{k}: {v}" for k, v in (call["Attributes"] or {}).items())
        console.print(f"  attributes: {attrs}", markup=False)
        console.print(f"  path: {' -> '.join(call['Path'])}", markup=False)

    emit(call, json_out, render)


@group.command("place")
def place(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="E.164 number to call.")],
    flow: Annotated[str | None, typer.Option("--flow", help="Flow id or name.")] = None,
    attribute: Annotated[
        list[str] | None, typer.Option("--attribute", "-a", help="Contact attribute KEY=VALUE.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--client-token", help="Idempotency token (same token, same call)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Place one call now through the configured provider, outside any journey."""
    attrs: dict[str, str] = {}
    for item in attribute or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput([Problem("--attribute", f"{item!r} is not KEY=VALUE")])
        attrs[key] = value
    st = state(ctx)
    app_id = st.app_id()
    result = service.start_outbound(
        st.app, app_id, address=number, flow=flow, attributes=attrs, client_token=token
    )
    if result.outcome != "sent" and result.provider_message_id is None:
        raise Conflict(f"call not placed: {result.reason}")
    call = service.show_call(st.app, app_id, result.provider_message_id or "")
    emit(call, json_out, lambda: console.print(_table([call])))


@group.command("sync")
def sync(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    json_out: JsonOpt = False,
) -> None:
    """Ask the provider (Amazon Connect) how calls still running went; records those that ended."""
    st = state(ctx)
    ended = service.sync(st.app, st.app_id(), limit=limit)
    emit({"Ended": ended}, json_out, lambda: console.print(_table(ended)))
