"""``renraku journeys``: create, validate, publish, pause, resume, cancel, delete
and inspect journeys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, state
from renraku.domain.journeys.model import load_definition
from renraku.errors import InvalidInput, Problem
from renraku.services import journeys as service

group = typer.Typer(
    help="Journeys: Pinpoint journey JSON (or YAML) plus VOICE, WaitForEvent, ExitCriteria, End.",
    no_args_is_help=True,
)

KeyArg = Annotated[str, typer.Argument(help="Journey id or name.")]
FileArg = Annotated[
    Path, typer.Argument(help="Journey definition: JSON or YAML file, - for stdin.")
]


def _read(path: Path) -> dict[str, Any]:
    if str(path) == "-":
        import sys

        return load_definition(sys.stdin.read(), source="<stdin>")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(
            [Problem(str(path), f"cannot read: {exc.strerror}")], subject="journey"
        ) from exc
    return load_definition(text, source=str(path))


def _render(journey: dict[str, Any]) -> None:
    console.print(
        f"[bold]{journey['Name']}[/]  id={journey['Id']}  state={journey['State']}  "
        f"version={journey['Version']}"
    )
    table = Table("Activity", "Type", "Next")
    from renraku.domain.journeys.model import build_journey

    built = build_journey("", journey["Id"], journey["Version"], journey)
    for act in built.activities.values():
        nxt = ", ".join(f"{label}->{target}" for label, target in act.successors())
        mark = " (start)" if act.id == built.start_activity else ""
        table.add_row(act.id + mark, act.kind, nxt)
    console.print(table)


@group.command("create")
def create(
    ctx: typer.Context,
    file: FileArg,
    publish: Annotated[bool, typer.Option("--publish", help="Publish it at once.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create a journey (DRAFT) from a definition file."""
    st = state(ctx)
    definition = _read(file)
    journey = service.create(st.app, st.app_id(), definition)
    if publish and journey["State"] == "DRAFT":
        journey = service.publish(st.app, st.app_id(), journey["Id"])
    emit(journey, json_out, lambda: _render(journey))


@group.command("update")
def update(ctx: typer.Context, key: KeyArg, file: FileArg, json_out: JsonOpt = False) -> None:
    """Replace a journey's definition (a new version when it is active or paused)."""
    st = state(ctx)
    journey = service.update(st.app, st.app_id(), key, _read(file))
    emit(journey, json_out, lambda: _render(journey))


@group.command("validate")
def validate(ctx: typer.Context, file: FileArg, json_out: JsonOpt = False) -> None:
    """Check a definition (structure, templates, segments, channels) without storing it."""
    st = state(ctx)
    found = service.validate(st.app, st.app_id(), _read(file))
    if found:
        raise InvalidInput(found, subject="journey")
    emit({"Valid": True, "Problems": []}, json_out, lambda: console.print("[green]valid[/]"))


@group.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Every journey of the application."""
    st = state(ctx)
    items = service.list_journeys(st.app, st.app_id())

    def render() -> None:
        table = Table("Id", "Name", "State", "Version")
        for j in items:
            table.add_row(j["Id"], j["Name"], j["State"], str(j["Version"]))
        console.print(table)

    emit({"Item": items}, json_out, render)


@group.command("show")
def show(ctx: typer.Context, key: KeyArg, json_out: JsonOpt = False) -> None:
    """A journey's definition and state (Pinpoint's JourneyResponse)."""
    st = state(ctx)
    journey = service.show(st.app, st.app_id(), key)
    emit(journey, json_out, lambda: _render(journey))


def _state_command(name: str, doc: str) -> None:
    def command(ctx: typer.Context, key: KeyArg, json_out: JsonOpt = False) -> None:
        st = state(ctx)
        journey = getattr(service, name)(st.app, st.app_id(), key)
        emit(journey, json_out, lambda: console.print(f"{journey['Id']}: {journey['State']}"))

    command.__doc__ = doc
    group.command(name)(command)


_state_command("publish", "DRAFT -> ACTIVE: validate fully and start admitting participants.")
_state_command("pause", "ACTIVE -> PAUSED: hold every participant where it is.")
_state_command("resume", "PAUSED -> ACTIVE.")
_state_command("cancel", "End the journey and its participants; nothing more is sent.")


@group.command("delete")
def delete(
    ctx: typer.Context,
    key: KeyArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete a journey in any state, with its versions, participants and sends."""
    st = state(ctx)
    if not yes and not json_out:
        typer.confirm(f"Delete journey {key} and its participants and sends?", abort=True)
    journey = service.delete(st.app, st.app_id(), key)
    emit(journey, json_out, lambda: console.print(f"Deleted journey {journey['Id']}."))


@group.command("metrics")
def metrics(
    ctx: typer.Context,
    key: KeyArg,
    activity: Annotated[str | None, typer.Option("--activity", help="One activity only.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Execution metrics of the journey and of each activity (Pinpoint's metric names)."""
    st = state(ctx)
    if activity:
        data = service.activity_metrics(st.app, st.app_id(), key, activity)
    else:
        data = service.metrics(st.app, st.app_id(), key)

    def render() -> None:
        table = Table("Scope", "Metric", "Value")
        for name, value in (data.get("Metrics") or {}).items():
            table.add_row(data.get("JourneyActivityId", "journey"), name, value)
        for act in data.get("Activities", []):
            for name, value in act["Metrics"].items():
                table.add_row(act["JourneyActivityId"], name, value)
        console.print(table)

    emit(data, json_out, render)


@group.command("participants")
def participants(
    ctx: typer.Context,
    key: KeyArg,
    activity: Annotated[str | None, typer.Option("--activity", help="At this activity.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="ACTIVE, PAUSED, FINISHED, EXITED, CANCELLED.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 1000,
    json_out: JsonOpt = False,
) -> None:
    """Who is where in the journey."""
    st = state(ctx)
    items = service.participants(
        st.app, st.app_id(), key, activity=activity, status=status, limit=limit
    )

    def render() -> None:
        table = Table("Participant", "Activity", "Status", "Wakes at", "Entered")
        for p in items:
            table.add_row(
                p["Participant"],
                p["Activity"] or "",
                p["Status"],
                p["WakeAt"] or "",
                p["EnteredAt"],
            )
        console.print(table)

    emit({"Item": items}, json_out, render)
