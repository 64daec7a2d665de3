"""``renraku config``: the effective settings (secrets masked) and a check of every provider."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, state

group = typer.Typer(
    help="Settings: show them, check the configured providers.", no_args_is_help=True
)


@group.command("show")
def show(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Print the effective settings (file, environment and options merged); secrets masked."""
    from renraku.channels.health import effective_settings

    data = effective_settings(state(ctx).settings)
    if json_out:
        emit(data, True)
        return
    console.print(_as_toml(data), markup=False, highlight=False)


def _as_toml(data: dict[str, Any], prefix: str = "") -> str:
    import json

    scalars = [(k, v) for k, v in data.items() if not isinstance(v, dict)]
    tables = [(k, v) for k, v in data.items() if isinstance(v, dict)]
    lines: list[str] = []
    if prefix and scalars:
        lines.append(f"[{prefix}]")
    for key, value in scalars:
        if value is None:
            lines.append(f"# {key} = (not set)")
        else:
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    if lines:
        lines.append("")
    for key, value in tables:
        lines.append(_as_toml(value, f"{prefix}.{key}" if prefix else key))
    return "\n".join(lines).rstrip() + "\n"


@group.command("check")
def check(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Test the database and each configured provider's reachability and credentials."""
    from renraku.channels.health import check_all

    results = check_all(state(ctx).settings)
    ok = all(r["Status"] != "FAIL" for r in results)

    def render() -> None:
        table = Table("Component", "Status", "Detail")
        colours = {"OK": "green", "FAIL": "red", "SKIP": "dim", "WARN": "yellow"}
        for r in results:
            table.add_row(r["Component"], f"[{colours[r['Status']]}]{r['Status']}[/]", r["Detail"])
        console.print(table)

    emit({"Ok": ok, "Checks": results}, json_out, render)
    if not ok:
        raise typer.Exit(1)
