"""``renraku segments``: audiences of journeys and conditions of splits."""

from __future__ import annotations

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, state
from renraku.store import segments as segment_store

group = typer.Typer(
    help="Segments: imported (static) and dimensional (dynamic) audiences.", no_args_is_help=True
)


@group.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List segments (Pinpoint's SegmentsResponse: {"Item": [...]})."""
    st = state(ctx)
    app_id = st.app_id()
    with st.app.store.connect() as conn:
        items = segment_store.list_all(conn, app_id)

    def render() -> None:
        table = Table("Id", "Name", "Type", "Version", "Size / channels")
        for item in items:
            imp = item.get("ImportDefinition") or {}
            counts = imp.get("ChannelCounts") or {}
            detail = " ".join(f"{k}:{v}" for k, v in counts.items())
            table.add_row(
                item["Id"],
                item["Name"],
                item["SegmentType"],
                str(item["Version"]),
                f"{imp.get('Size', '')} {detail}".strip(),
            )
        console.print(table)

    emit({"Item": items}, json_out, render)
