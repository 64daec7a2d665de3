"""``renraku segments``: audiences of journeys and conditions of splits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, load_json_arg, state
from renraku.domain.segments import format_filter, parse_filter, parse_segment_definition
from renraku.errors import InvalidInput, Problem
from renraku.services import segments as service
from renraku.store import segments as segment_store

group = typer.Typer(
    help="Segments: imported (static) and dimensional (dynamic) audiences.", no_args_is_help=True
)

KeyArg = Annotated[str, typer.Argument(help="Segment id or name.")]
WhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where", "-w", help="One-line filter, e.g. 'ChannelType = EMAIL and "
        "Attributes.CallStatus = PENDING'."
    ),
]  # fmt: skip
DimensionsOpt = Annotated[
    str | None,
    typer.Option("--dimensions", help="Pinpoint SegmentDimensions as JSON, @FILE or - (stdin)."),
]
GroupsOpt = Annotated[
    str | None,
    typer.Option("--groups", help="Pinpoint SegmentGroups as JSON, @FILE or - (stdin)."),
]


def _definition(
    where: str | None, dimensions: str | None, groups: str | None, *, required: bool = True
) -> tuple[dict[str, Any] | None, str | None]:
    """(JSON definition, filter) from exactly one of --where, --dimensions, --groups."""
    given = [x for x in (where, dimensions, groups) if x is not None]
    if len(given) > 1 or (required and not given):
        raise InvalidInput(
            [Problem("--where/--dimensions/--groups", "give exactly one of them")],
            subject="segment definition",
        )
    if where is not None:
        return None, where
    for option, raw, key in (("--dimensions", dimensions, "Dimensions"),
                             ("--groups", groups, "SegmentGroups")):  # fmt: skip
        if raw is None:
            continue
        loaded = load_json_arg(raw)
        if not isinstance(loaded, dict):
            raise InvalidInput([Problem(option, "must be a JSON object")],
                               subject="segment definition")  # fmt: skip
        # Accept the bare object, or the object wrapped as in a WriteSegmentRequest.
        if set(loaded) == {key}:
            loaded = loaded[key]
        return {key: loaded}, None
    return None, None


def _tags(tag: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, item in enumerate(tag or []):
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise InvalidInput([Problem(f"--tag[{i}]", f"{item!r}: write KEY=VALUE")])
        out[k] = v
    return out


def _print_segment(seg: dict[str, Any]) -> None:
    console.print(
        f"[bold]{seg['Name']}[/] {seg['Id']} ({seg['SegmentType']}, version {seg['Version']})"
    )
    if "Filter" in seg:
        console.print(f"  filter: {seg['Filter']}", markup=False, highlight=False)
    imp = seg.get("ImportDefinition")
    if imp:
        console.print(f"  imported: {imp.get('Size', '?')} endpoints", highlight=False)


@group.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Segment name.")],
    where: WhereOpt = None,
    dimensions: DimensionsOpt = None,
    groups: GroupsOpt = None,
    tag: Annotated[list[str] | None, typer.Option(help="A tag KEY=VALUE (repeatable).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a dimensional segment from a filter or Pinpoint JSON (checked whole first)."""
    definition, filt = _definition(where, dimensions, groups)
    st = state(ctx)
    seg = service.create(
        st.app, st.app_id(), name, definition=definition, where=filt, tags=_tags(tag)
    )
    emit(seg, json_out, lambda: _print_segment(seg))


@group.command("update")
def update(
    ctx: typer.Context,
    key: KeyArg,
    where: WhereOpt = None,
    dimensions: DimensionsOpt = None,
    groups: GroupsOpt = None,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a new version of a segment (its definition and/or name)."""
    definition, filt = _definition(where, dimensions, groups, required=False)
    st = state(ctx)
    seg = service.update(st.app, st.app_id(), key, definition=definition, where=filt, name=name)
    emit(seg, json_out, lambda: _print_segment(seg))


@group.command("show")
def show(
    ctx: typer.Context,
    key: KeyArg,
    version: Annotated[int | None, typer.Option(help="A past version.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a segment: Pinpoint's SegmentResponse plus its one-line Filter."""
    st = state(ctx)
    seg = service.show(st.app, st.app_id(), key, version=version)
    emit(seg, json_out, lambda: _print_segment(seg))


@group.command("versions")
def versions(ctx: typer.Context, key: KeyArg, json_out: JsonOpt = False) -> None:
    """Every version of a segment ({"Item": [...]}, oldest first)."""
    st = state(ctx)
    items = service.versions(st.app, st.app_id(), key)

    def render() -> None:
        table = Table("Version", "Name", "Date", "Definition")
        for item in items:
            shown: dict[str, Any] = {
                k: item[k] for k in ("Dimensions", "SegmentGroups") if k in item
            }
            text = format_filter(parse_segment_definition(shown)) if shown else "imported"
            table.add_row(str(item["Version"]), item["Name"], item["LastModifiedDate"], text)
        console.print(table)

    emit({"Item": items}, json_out, render)


@group.command("count")
def count(ctx: typer.Context, key: KeyArg, json_out: JsonOpt = False) -> None:
    """Endpoints and users in the segment now, and endpoints by channel."""
    st = state(ctx)
    result = service.count(st.app, st.app_id(), key)

    def render() -> None:
        channels = "  ".join(f"{k} {v}" for k, v in result["ByChannel"].items())
        console.print(
            f"{result['Count']} endpoints, {result['Users']} users  {channels}", highlight=False
        )

    emit(result, json_out, render)


@group.command("preview")
def preview(
    ctx: typer.Context,
    key: KeyArg,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many to show.")] = 20,
    users: Annotated[bool, typer.Option("--users", help="Show users, not endpoints.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """The first endpoints (or users) of the segment, in id order."""
    st = state(ctx)
    items = service.preview(st.app, st.app_id(), key, limit=limit, users=users)

    def render() -> None:
        table = Table("User", "Id", "Channel", "Address", "Attributes")
        for item in items:
            for ep in item["Endpoints"] if users else [item]:
                attrs = " ".join(f"{k}={','.join(v)}" for k, v in ep["Attributes"].items())
                table.add_row(
                    ep["User"].get("UserId", ""), ep["Id"], ep["ChannelType"], ep["Address"], attrs
                )
        console.print(table)

    emit({"Item": items}, json_out, render)


@group.command("export")
def export(
    ctx: typer.Context,
    key: KeyArg,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV file (default: standard output).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write the segment's endpoints as CSV in the import format."""
    st = state(ctx)
    if output is None:
        written = service.export(st.app, st.app_id(), key, sys.stdout)
        return
    try:
        with output.open("w", encoding="utf-8", newline="") as out:
            written = service.export(st.app, st.app_id(), key, out)
    except OSError as exc:
        raise InvalidInput([Problem(str(output), f"cannot write: {exc.strerror}")]) from exc
    result = {"Output": str(output), "Endpoints": written}
    emit(result, json_out, lambda: console.print(f"{written} endpoints written to {output}"))


@group.command("delete")
def delete(ctx: typer.Context, key: KeyArg, json_out: JsonOpt = False) -> None:
    """Delete a segment (refused while another segment names it as a source)."""
    st = state(ctx)
    seg = service.delete(st.app, st.app_id(), key)
    emit(seg, json_out, lambda: console.print(f"deleted segment {seg['Name']} ({seg['Id']})"))


@group.command("convert")
def convert(
    where: WhereOpt = None,
    dimensions: DimensionsOpt = None,
    groups: GroupsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print a filter as Pinpoint JSON, or Pinpoint JSON as a filter (nothing is stored).

    Prints {"Filter": ..., "Dimensions" | "SegmentGroups": ...}.
    """
    definition, filt = _definition(where, dimensions, groups)
    defn = parse_filter(filt) if filt is not None else parse_segment_definition(definition or {})
    result = {"Filter": format_filter(defn), **defn.to_json()}

    def render() -> None:
        console.print(result["Filter"], markup=False, highlight=False)
        console.print_json(data=defn.to_json())

    emit(result, json_out, render)


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
