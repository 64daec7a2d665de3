"""``renraku apps``: applications (Pinpoint's projects)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, state
from renraku.store import apps as app_store

group = typer.Typer(
    help="Applications: each holds its own endpoints, segments and journeys.", no_args_is_help=True
)


@group.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A unique name.")],
    json_out: JsonOpt = False,
) -> None:
    """Create an application (JSON shaped like Pinpoint's ApplicationResponse)."""
    app = state(ctx).app
    with app.store.begin() as conn:
        record = app_store.create_app(conn, name, now=app.now_iso())
    emit(record, json_out, lambda: console.print(f"Created application {name} ({record['Id']})."))


@group.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List applications."""
    app = state(ctx).app
    with app.store.connect() as conn:
        items = app_store.list_apps(conn)

    def render() -> None:
        table = Table("Id", "Name", "Created")
        for item in items:
            table.add_row(item["Id"], item["Name"], item["CreationDate"])
        console.print(table)

    emit({"Item": items}, json_out, render)


@group.command("delete")
def delete(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Application id or name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete an application and everything in it."""
    app = state(ctx).app
    if not yes and not json_out:
        typer.confirm(f"Delete application {key} and all its data?", abort=True)
    with app.store.begin() as conn:
        record = app_store.delete_app(conn, key)
    emit(record, json_out, lambda: console.print(f"Deleted application {record['Name']}."))
