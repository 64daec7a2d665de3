"""``renraku demo``: the seed scenario on embedded defaults in a fresh ``./demo-out/``.

Thin: options, live progress and the summary; the run itself is :mod:`renraku.services.demo`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, err_console, state
from renraku.services.demo import DemoOptions, DemoResult, run_demo
from renraku.simulation.outcome import REACH_ROWS
from renraku.simulation.scenario import Setup, Snapshot


def progress_view(snap: Snapshot, activities: list[str], users: int) -> Group:
    """Participants per activity, calls ringing, sends per channel, responses."""
    where = Table("Activity", "Participants", title=f"Journey time {snap.now[:16]}Z")
    for act in activities:
        where.add_row(act, f"{snap.at_activities.get(act, 0):,}")
    where.add_row("[dim]finished[/]", f"{snap.finished:,} / {users:,}")
    sends = Table("Sends and responses", "Count", title="Channels")
    for channel in ("VOICE", "SMS", "EMAIL"):
        sends.add_row(f"{channel} sent", f"{snap.sends.get(channel, 0):,}")
    sends.add_row("[bold]calls ringing now[/]", f"{snap.ringing:,}")
    for kind, n in snap.responses.items():
        sends.add_row(kind, f"{n:,}")
    grid = Table.grid(padding=(0, 2))
    grid.add_row(where, sends)
    return Group(grid)


def summary_table(result: DemoResult) -> Table:
    o = result.outcome
    table = Table("Outcome", "Customers", "Share", title=f"Summary ({o.users:,} customers)")
    for row in REACH_ROWS:
        if row == "held for quiet hours":  # not an outcome: customers waited for morning
            table.add_section()
        n = o.reach[row]
        table.add_row(row, f"{n:,}", f"{n / o.users:.0%}" if o.users else "-")
    return table


def demo_command(
    ctx: typer.Context,
    users: Annotated[
        int, typer.Option("--users", min=1, max=100_000, help="Customers (the seed's User1 first).")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the population and callees.")] = 2023,
    time_scale: Annotated[
        float,
        typer.Option("--time-scale", min=1.0, help="Journey seconds per second (3600: 1 h/s)."),
    ] = 3600.0,
    out: Annotated[Path, typer.Option("--out", help="Folder to (re)create.")] = Path("demo-out"),
    serve: Annotated[
        bool, typer.Option("--serve", help="Then serve the dashboard on http://127.0.0.1:8080.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Run the seed scenario (call -> SMS -> email) on embedded defaults in a fresh ./demo-out/."""
    cli_state = state(ctx)
    base = cli_state.settings
    options = DemoOptions(out=out, users=users, seed=seed, time_scale=time_scale)
    activities: list[str] = []
    live = Live(console=console, refresh_per_second=8, transient=False)

    def ready(setup: Setup) -> None:
        activities.extend((setup.journey.get("Activities") or {}).keys())
        if not json_out:
            console.print(
                f"Imported {setup.imported:,} endpoints of {setup.users:,} customers; "
                "journey published: phone -> 1 h -> SMS -> 1 h -> email, quiet hours 21:00-09:00",
                highlight=False,
            )
            live.start()

    def step(snap: Snapshot) -> None:
        if not json_out:
            live.update(progress_view(snap, activities, users))

    try:
        result = run_demo(options, base, on_step=step, on_ready=ready)
    finally:
        live.stop()

    def render() -> None:
        console.print()
        console.print(summary_table(result))
        o = result.outcome
        console.print(
            f"Sent {o.sends.get('VOICE', 0):,} calls, {o.sends.get('SMS', 0):,} SMS, "
            f"{o.sends.get('EMAIL', 0):,} emails; {result.mails:,} mails in {result.maildir}/",
            highlight=False,
        )
        console.print(f"Report: {result.report}   Summary: {result.summary}", highlight=False)
        console.print(f"Database: {result.database}   ({result.seconds:.1f} s)", highlight=False)
        console.print(
            f"Explore: renraku --db {result.database} calls list", highlight=False, markup=False
        )

    emit(result.to_json(), json_out, render)
    if serve:
        _serve(ctx, result.database)


def _serve(ctx: typer.Context, database: str) -> None:
    """``renraku serve`` on the demo's database, with a dashboard login made for the newcomer."""
    import secrets

    from renraku.cli.serve import serve_command
    from renraku.web import sessions

    cli_state = state(ctx)
    cli_state.close()
    cli_state.db, cli_state._app, cli_state._settings = database, None, None
    password = secrets.token_urlsafe(9)
    sessions.create_user(cli_state.app, "demo", password)
    err_console.print(
        f"Dashboard: http://127.0.0.1:8080/ui/  (user demo, password {password}); "
        "stop with Ctrl+C.",
        highlight=False,
        markup=False,
    )
    serve_command(ctx, host="127.0.0.1", port=8080, workers=1, log_level="warning")
