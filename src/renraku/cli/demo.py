"""``renraku demo``."""

from __future__ import annotations

import typer


def demo_command(ctx: typer.Context) -> None:
    """Run the demo (being built)."""
    raise typer.Exit(1)
