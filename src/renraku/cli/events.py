"""``renraku events put`` and ``renraku timeline USER_ID``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, load_json_arg, state
from renraku.errors import InvalidInput, Problem
from renraku.services import events as service
from renraku.store import endpoints as endpoint_store
from renraku.store import events as event_store

group = typer.Typer(
    help="Application events (Pinpoint PutEvents): start and wake journeys.", no_args_is_help=True
)


def _pairs(values: list[str], option: str, *, numeric: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for v in values:
        name, sep, value = v.partition("=")
        if not sep or not name:
            raise InvalidInput([Problem(option, f"{v!r}: use NAME=VALUE")], subject="event")
        if numeric:
            try:
                out[name] = float(value)
            except ValueError as exc:
                raise InvalidInput(
                    [Problem(option, f"{v!r}: not a number")], subject="event"
                ) from exc
        else:
            out[name] = value
    return out


@group.command("put")
def put(
    ctx: typer.Context,
    event_type: Annotated[str | None, typer.Option("--type", "-t", help="EventType.")] = None,
    endpoint_id: Annotated[str | None, typer.Option("--endpoint-id")] = None,
    user_id: Annotated[str | None, typer.Option("--user-id")] = None,
    attribute: Annotated[
        list[str] | None, typer.Option("--attr", help="NAME=VALUE (repeat).")
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="NAME=NUMBER (repeat).")
    ] = None,
    timestamp: Annotated[
        str | None, typer.Option("--timestamp", help="ISO-8601; default now.")
    ] = None,
    batch: Annotated[
        str | None,
        typer.Option("--batch", help="An EventsRequest or a list of events: JSON, @FILE or -."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Post an event for an endpoint or a user (or a whole batch)."""
    st = state(ctx)
    if batch is not None:
        body = load_json_arg(batch)
    else:
        if not event_type:
            raise InvalidInput([Problem("--type", "required (or give --batch)")], subject="event")
        ev: dict[str, Any] = {"EventType": event_type}
        if endpoint_id:
            ev["EndpointId"] = endpoint_id
        if user_id:
            ev["UserId"] = user_id
        ev["Attributes"] = _pairs(attribute or [], "--attr", numeric=False)
        ev["Metrics"] = _pairs(metric or [], "--metric", numeric=True)
        if timestamp:
            ev["Timestamp"] = timestamp
        body = [ev]
    result = service.put_events(st.app, st.app_id(), body)
    emit(
        result,
        json_out,
        lambda: console.print(
            f"accepted {sum(1 for r in result['Results'].values() if r['StatusCode'] == 202)} event(s); "
            f"{result['Entered']} entered a journey, {result['Woken']} waiting participant(s) woken"
        ),
    )


def timeline_command(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="The user (User.UserId) or an endpoint id.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 1000,
    json_out: JsonOpt = False,
) -> None:
    """Everything that happened to a user, oldest first: entries, steps, sends, outcomes."""
    st = state(ctx)
    app_id = st.app_id()
    with st.app.store.connect() as conn:
        eps = endpoint_store.by_user(conn, app_id, user_id)
        ids = [e.id for e in eps] or [user_id]
        items = event_store.timeline(conn, app_id, user_id=user_id, endpoint_ids=ids, limit=limit)

    def render() -> None:
        table = Table("Time", "Event", "Journey/activity", "Endpoint", "Details")
        for e in items:
            where = f"{(e['JourneyId'] or '')[:8]} {e['ActivityId'] or ''}".strip()
            details = ", ".join(
                f"{k}={v}" for k, v in (e["Data"] or {}).items() if v not in (None, "")
            )
            table.add_row(e["Time"], e["Kind"], where, e["EndpointId"] or "", details)
        console.print(table)

    emit({"UserId": user_id, "Events": items}, json_out, render)
