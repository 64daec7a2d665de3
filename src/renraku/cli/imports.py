"""``renraku import`` and ``renraku imports``: bring endpoints in from CSV or JSON."""

from __future__ import annotations

import typer

group = typer.Typer(help="Import jobs.", no_args_is_help=True)


def import_command(ctx: typer.Context) -> None:
    """Import endpoints (being built)."""
    raise typer.Exit(1)
