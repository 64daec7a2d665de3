"""The ``renraku`` command line (typer + rich). Thin: parse, call the app, render."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from renraku import __version__
from renraku.cli import apps as apps_cli
from renraku.cli import calls as calls_cli
from renraku.cli import clock as clock_cli
from renraku.cli import config as config_cli
from renraku.cli import dashboard as dashboard_cli
from renraku.cli import endpoints as endpoints_cli
from renraku.cli import events as events_cli
from renraku.cli import flows as flows_cli
from renraku.cli import functions as functions_cli
from renraku.cli import imports as imports_cli
from renraku.cli import journeys as journeys_cli
from renraku.cli import keys as keys_cli
from renraku.cli import segments as segments_cli
from renraku.cli import stand_ins as stand_ins_cli
from renraku.cli import suppressions as suppressions_cli
from renraku.cli import templates as templates_cli
from renraku.cli import webhooks as webhooks_cli
from renraku.cli import worker as worker_cli
from renraku.cli.common import CliState, err_console
from renraku.cli.demo import demo_command
from renraku.cli.init import init_command
from renraku.cli.serve import serve_command
from renraku.cli.simulate import simulate_command
from renraku.errors import Conflict, InvalidInput, NotFound, RenrakuError

cli = typer.Typer(
    name="renraku",
    help="renraku: multichannel outbound communication (call, SMS, email) in durable journeys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        print(f"renraku {__version__}")
        raise typer.Exit()


@cli.callback()
def _global(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", envvar="RENRAKU_DB", help="Database URL (default sqlite:///renraku.db)."
        ),
    ] = None,
    app: Annotated[
        str | None,
        typer.Option("--app", envvar="RENRAKU_APP", help="Application id or name."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="RENRAKU_CONFIG", help="Settings file (renraku.toml)."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    state = CliState(db=db, app_key=app, config=config)
    ctx.obj = state
    ctx.call_on_close(state.close)


cli.command("init")(init_command)
cli.command("demo")(demo_command)
cli.command("simulate")(simulate_command)
cli.command("import")(imports_cli.import_command)
cli.add_typer(apps_cli.group, name="apps")
cli.add_typer(endpoints_cli.group, name="endpoints")
cli.add_typer(imports_cli.group, name="imports")
cli.add_typer(segments_cli.group, name="segments")
cli.add_typer(flows_cli.group, name="flows")
cli.add_typer(calls_cli.group, name="calls")
cli.add_typer(templates_cli.group, name="templates")
cli.add_typer(config_cli.group, name="config")
cli.add_typer(functions_cli.group, name="functions")
cli.add_typer(suppressions_cli.group, name="suppressions")
cli.add_typer(stand_ins_cli.group, name="stand-ins")
cli.add_typer(webhooks_cli.group, name="webhooks")
cli.command("serve")(serve_command)
cli.add_typer(keys_cli.group, name="keys")
cli.add_typer(dashboard_cli.group, name="dashboard-users")
cli.add_typer(journeys_cli.group, name="journeys")
cli.add_typer(events_cli.group, name="events")
cli.add_typer(clock_cli.group, name="clock")
cli.command("timeline")(events_cli.timeline_command)
cli.command("worker")(worker_cli.worker_command)

EXIT_CODES: dict[type[RenrakuError], int] = {InvalidInput: 3, NotFound: 4, Conflict: 5}


def _exit_code(exc: RenrakuError) -> int:
    for kind, code in EXIT_CODES.items():
        if isinstance(exc, kind):
            return code
    return 1


def main() -> None:
    """Console-script entry: run the CLI and turn renraku errors into messages and exit codes."""
    from renraku.masking import configure_logging

    configure_logging()  # secrets always, phone numbers and emails by default, masked in logs
    try:
        cli()
    except RenrakuError as exc:
        if "--json" in sys.argv:
            problems = [
                {"path": p.path, "message": p.message} for p in getattr(exc, "problems", ())
            ]
            error: dict[str, object] = {"type": type(exc).__name__, "message": str(exc)}
            if problems:
                error["problems"] = problems
            body = {"error": error}
            print(json.dumps(body, ensure_ascii=False, indent=2))
        else:
            problems_found = getattr(exc, "problems", ())
            headline = f"invalid {exc.subject}" if isinstance(exc, InvalidInput) else str(exc)
            err_console.print(f"[bold red]error:[/] {headline}", markup=True, highlight=False)
            for problem in problems_found[:50]:
                err_console.print(f"  - {problem}", markup=False, highlight=False)
            if len(problems_found) > 50:
                err_console.print(f"  ... and {len(problems_found) - 50} more", markup=False)
        sys.exit(_exit_code(exc))
