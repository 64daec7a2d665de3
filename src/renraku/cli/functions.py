"""``renraku functions``: list the configured Lambda-style functions and invoke one."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, err_console, load_json_arg, state
from renraku.errors import RenrakuError

group = typer.Typer(
    help="Lambda-style functions declared in \\[functions.NAME].", no_args_is_help=True
)


@group.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List the functions in the settings."""
    functions = state(ctx).settings.functions
    items: list[dict[str, Any]] = [
        {
            "FunctionName": name,
            "Handler": spec.handler,
            "Code": spec.code,
            "Timeout": spec.timeout_seconds,
            "Application": spec.application,
            "Environment": sorted(spec.environment),
        }
        for name, spec in sorted(functions.items())
    ]

    def render() -> None:
        table = Table("Name", "Handler", "Code", "Timeout (s)", "Application", "Environment keys")
        for item in items:
            table.add_row(
                item["FunctionName"],
                item["Handler"],
                item["Code"],
                f"{item['Timeout']:g}",
                item["Application"] or "(caller's)",
                ", ".join(item["Environment"]),
            )
        console.print(table)

    emit({"Functions": items}, json_out, render)


@group.command("invoke")
def invoke(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="Function name, Lambda ARN or python:module:function.")
    ],
    event: Annotated[
        str, typer.Option("--event", "-e", help="Event JSON, @FILE or - (stdin).")
    ] = "{}",
    application: Annotated[
        str | None, typer.Option("--application", help="Application whose credentials it gets.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Invoke a function once; prints its result and its logs. Exit code 1 if it failed."""
    from renraku import functions

    st = state(ctx)
    payload = load_json_arg(event)
    app = None
    if application or st.settings.functions.get(name, None) is not None:
        try:
            app = st.app
        except RenrakuError:
            app = None
    result = functions.run(st.settings, name, payload, app=app, application=application)
    out = result.to_json()

    def render() -> None:
        err_console.print(result.logs, markup=False, highlight=False, end="")
        if result.error is not None:
            err_console.print(f"[bold red]error:[/] {result.error}", highlight=False)
        else:
            console.print_json(data=result.result)

    emit(out, json_out, render)
    if result.error is not None:
        raise typer.Exit(1)
