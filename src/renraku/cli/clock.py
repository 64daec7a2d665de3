"""``renraku clock``: the journey clock (real, accelerated, or virtual in the database)."""

from __future__ import annotations

from typing import Annotated

import typer

from renraku.cli.common import JsonOpt, console, emit, state
from renraku.domain.journeys.model import parse_duration
from renraku.domain.timefmt import iso, parse_iso
from renraku.engine.clock import VirtualClock
from renraku.errors import Conflict, InvalidInput, Problem

group = typer.Typer(
    help="The journey clock (\\[clock] mode = real | accelerated | virtual).", no_args_is_help=True
)


def _virtual(ctx: typer.Context) -> VirtualClock:
    clock = state(ctx).app.clock
    if not isinstance(clock, VirtualClock):
        raise Conflict(
            'the clock is not virtual; set [clock] mode = "virtual" (RENRAKU_CLOCK__MODE=virtual)'
        )
    return clock


def _show(ctx: typer.Context, json_out: bool) -> None:
    st = state(ctx)
    data = {"Mode": st.settings.clock.mode, "Now": iso(st.app.clock.now())}
    if st.settings.clock.mode == "accelerated":
        data["TimeScale"] = str(st.settings.clock.time_scale)
    emit(data, json_out, lambda: console.print(f"{data['Mode']}: {data['Now']}"))


@group.command("show")
def show(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The clock's mode and current time."""
    _show(ctx, json_out)


@group.command("advance")
def advance(
    ctx: typer.Context,
    duration: Annotated[str, typer.Argument(help="How far: 1h, 30m, 2d, PT1H ...")],
    json_out: JsonOpt = False,
) -> None:
    """Move the virtual clock forward (workers then do what became due)."""
    try:
        delta = parse_duration(duration)
    except ValueError as exc:
        raise InvalidInput([Problem("DURATION", str(exc))], subject="duration") from exc
    _virtual(ctx).advance(delta)
    _show(ctx, json_out)


@group.command("set")
def set_(
    ctx: typer.Context,
    moment: Annotated[str, typer.Argument(help="ISO-8601 time, later than now.")],
    json_out: JsonOpt = False,
) -> None:
    """Move the virtual clock to a later time."""
    try:
        target = parse_iso(moment)
    except ValueError as exc:
        raise InvalidInput(
            [Problem("MOMENT", f"not an ISO-8601 time: {moment!r}")], subject="time"
        ) from exc
    clock = _virtual(ctx)
    if target < clock.now():
        raise Conflict("the virtual clock only moves forward")
    clock.set(target)
    _show(ctx, json_out)
