"""``renraku demo``: the main job on embedded defaults, in a fresh folder ``./demo-out/``.

For now: create a SQLite database, import a generated, seeded customer list (the seed's User1 plus
synthetic customers with Japanese names, three endpoints each) and show what was imported.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from renraku.app import build_app
from renraku.cli.common import JsonOpt, console, emit
from renraku.importing.synthetic import write_customer_csv
from renraku.services import imports as import_service
from renraku.settings import load_settings
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store


def run_demo(out: Path, users: int, seed: int) -> dict[str, Any]:
    """Recreate ``out``, import ``users`` customers into ``out/renraku.db``; returns a summary."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    customers = write_customer_csv(out / "customers.csv", users * 3, seed=seed)
    db_url = f"sqlite:///{out / 'renraku.db'}"
    app = build_app(load_settings(db=db_url))
    try:
        with app.store.begin() as conn:
            app_id = str(app_store.create_app(conn, "default", now=app.now_iso())["Id"])
        started = time.monotonic()
        job = import_service.run_import(
            app,
            app_id,
            import_service.ImportOptions(
                source=str(customers), segment_name="customers", default_region="JP"
            ),
        )
        seconds = time.monotonic() - started
        with app.store.connect() as conn:
            per_channel = endpoint_store.count_by_channel(conn, app_id)
            user_count = endpoint_store.count_users(conn, app_id)
    finally:
        app.close()
    return {
        "Database": db_url,
        "CustomerList": str(customers),
        "ImportJob": job,
        "EndpointsByChannel": dict(sorted(per_channel.items())),
        "Users": user_count,
        "Failures": job["TotalFailures"],
        "Seconds": round(seconds, 3),
        "RowsPerSecond": round(job["TotalProcessed"] / seconds) if seconds > 0 else None,
    }


def demo_command(
    ctx: typer.Context,
    users: Annotated[
        int, typer.Option("--users", min=1, max=1_000_000, help="Customers to generate.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated list.")] = 2023,
    out: Annotated[Path, typer.Option("--out", help="Folder to (re)create for the demo.")] = Path(
        "demo-out"
    ),
    json_out: JsonOpt = False,
) -> None:
    """Run the demo on embedded defaults in a fresh ./demo-out/ (no configuration needed)."""
    summary = run_demo(out, users, seed)

    def render() -> None:
        job = summary["ImportJob"]
        console.print(
            f"Imported [bold]{summary['CustomerList']}[/] into [bold]{summary['Database']}[/]"
        )
        table = Table("Channel", "Endpoints", title="What was imported")
        for channel, n in summary["EndpointsByChannel"].items():
            table.add_row(channel, f"{n:,}")
        table.add_row("[bold]all[/]", f"[bold]{sum(summary['EndpointsByChannel'].values()):,}[/]")
        console.print(table)
        facts = Table(show_header=False, box=None)
        facts.add_row("Users", f"{summary['Users']:,}")
        facts.add_row("Rows rejected", f"{summary['Failures']:,}")
        facts.add_row(
            "Import rate", f"{summary['RowsPerSecond'] or 0:,} rows/s ({summary['Seconds']} s)"
        )
        facts.add_row("Import job", f"{job['Id']} ({job['JobStatus']})")
        facts.add_row("Segment", f"customers ({job['Definition'].get('SegmentId')})")
        console.print(facts)
        console.print(
            f"Next: renraku --db {summary['Database']} endpoints user User1", highlight=False
        )

    emit(summary, json_out, render)
