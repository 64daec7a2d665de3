"""``renraku flows``: contact flows in Amazon Connect's flow language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, state
from renraku.errors import InvalidInput, Problem
from renraku.services import flows as service

group = typer.Typer(help="Contact flows (Amazon Connect flow language).", no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(help="A flow file exported from Amazon Connect (JSON).")]


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput([Problem(str(path), f"cannot read: {exc.strerror}")]) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            [Problem(f"{path}:{exc.lineno}:{exc.colno}", f"not valid JSON: {exc.msg}")],
            subject=str(path),
        ) from exc


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table("Id", "Name", "Version", "LastModifiedDate")
    for r in rows:
        table.add_row(r["Id"], r["Name"], str(r["Version"]), r["LastModifiedDate"])
    return table


@group.command("validate")
def validate(path: FileArg, json_out: JsonOpt = False) -> None:
    """Check a flow file without storing it; every problem is named (action, field, why)."""
    result = service.validate(_read(path), source=str(path))

    def render() -> None:
        types = ", ".join(result["ActionTypes"])
        console.print(f"{path}: valid, {result['Actions']} actions ({types})", markup=False)
        for warning in result["Warnings"]:
            console.print(f"  warning: {warning}", markup=False)

    emit(result, json_out, render)


@group.command("create")
def create(
    ctx: typer.Context,
    path: FileArg,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Flow name (default: Metadata.name, else the file name)."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="A description.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Store a flow; storing a name again adds a new version (calls run the newest)."""
    data = _read(path)
    st = state(ctx)
    result = service.create(
        st.app,
        st.app_id(),
        data,
        name=name or service.default_name(data, path.stem),
        description=description,
        source=str(path),
    )
    emit(result, json_out, lambda: console.print(_table([result])))


@group.command("show")
def show(
    ctx: typer.Context,
    flow: Annotated[str, typer.Argument(help="Flow id or name.")],
    version: Annotated[int | None, typer.Option(help="A version (default: the newest).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a flow: its versions and the flow-language JSON of one version."""
    st = state(ctx)
    result = service.show(st.app, st.app_id(), flow, version=version)

    def render() -> None:
        console.print(_table([result]))
        console.print_json(json.dumps(result["Content"], ensure_ascii=False))

    emit(result, json_out, render)


@group.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List the application's flows."""
    st = state(ctx)
    rows = service.list_all(st.app, st.app_id())
    emit({"Flows": rows}, json_out, lambda: console.print(_table(rows)))
