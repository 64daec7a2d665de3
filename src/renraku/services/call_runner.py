"""Drives one call's flow: feeds events to the pure interpreter and carries out the commands that
need no phone (invoke a function, load a transferred flow, mark the participant reached), returning
only what the phone side must do (say, gather, disconnect).

Every runner (the simulator, the TwiML routes) uses :func:`drive`, so a flow behaves the same on
every provider. Functions run outside any database transaction: they may call back into renraku.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from renraku.app import App
from renraku.domain.flows import (
    CallState,
    Command,
    Event,
    Flow,
    FlowLoaded,
    FlowMissing,
    FunctionFailed,
    FunctionReturned,
    InvokeFunction,
    LoadFlow,
    MarkReached,
    advance,
)
from renraku.domain.timefmt import iso
from renraku.errors import InvalidInput, NotFound
from renraku.services import flows as flow_service
from renraku.services.call_functions import FunctionError, FunctionInvoker


@dataclass
class CallContext:
    """What a running call needs besides its state."""

    app: App
    app_id: str
    call_id: str
    user_id: str | None
    endpoint_id: str | None
    address: str
    invoker: FunctionInvoker
    flows: dict[str, Flow] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)  # transcript entries
    on_reached: Callable[[CallContext, MarkReached, datetime], None] | None = None

    def flow(self, flow_id: str) -> Flow:
        if flow_id not in self.flows:
            with self.app.store.connect() as conn:
                summary, flow = flow_service.load(conn, self.app_id, flow_id)
            self.flows[summary["Id"]] = flow
            self.flows[flow_id] = flow
        return self.flows[flow_id]


def _invoke(ctx: CallContext, cmd: InvokeFunction, at: datetime) -> Event:
    entry: dict[str, Any] = {"At": iso(at), "Action": cmd.action, "Kind": "Function"}
    entry["Function"] = cmd.function
    try:
        result = ctx.invoker(cmd.function, cmd.event, cmd.timeout_seconds, application=ctx.app_id)
    except FunctionError as exc:
        ctx.log.append({**entry, "Ok": False, "Error": str(exc)})
        return FunctionFailed(str(exc))
    ctx.log.append({**entry, "Ok": True, "Result": result})
    return FunctionReturned(result)


def _load(ctx: CallContext, cmd: LoadFlow) -> tuple[Event, Flow | None]:
    try:
        with ctx.app.store.connect() as conn:
            summary, flow = flow_service.load(conn, ctx.app_id, cmd.flow_ref)
    except (NotFound, InvalidInput) as exc:
        ctx.log.append({"Action": cmd.action, "Kind": "Transfer", "Ok": False, "Error": str(exc)})
        return FlowMissing(str(exc)), None
    ctx.flows[summary["Id"]] = flow
    ctx.log.append({"Action": cmd.action, "Kind": "Transfer", "Ok": True, "Flow": summary["Id"]})
    return FlowLoaded(summary["Id"]), flow


def drive(
    ctx: CallContext, state: CallState, event: Event, at: datetime
) -> tuple[CallState, list[Command]]:
    """Feed ``event`` (happening at ``at``) to the call; the phone commands to carry out."""
    flow = ctx.flow(state.flow_id)
    step = advance(flow, state, event)
    phone: list[Command] = []
    while True:
        state = step.state
        follow: Event | None = None
        for cmd in step.commands:
            if isinstance(cmd, InvokeFunction):
                follow = _invoke(ctx, cmd, at)
            elif isinstance(cmd, LoadFlow):
                follow, loaded = _load(ctx, cmd)
                if loaded is not None:
                    flow = loaded
            elif isinstance(cmd, MarkReached):
                if ctx.on_reached is not None:
                    ctx.on_reached(ctx, cmd, at)
                ctx.log.append({"At": iso(at), "Action": cmd.action, "Kind": "MarkReached"})
            else:
                phone.append(cmd)
        if follow is None:
            return state, phone
        step = advance(flow, state, follow)


def apply_reached(ctx: CallContext, mark: MarkReached, at: datetime) -> None:
    """MarkReached: the call endpoint's attribute (CallStatus) becomes the status (COMPLETED), the
    user's other pending endpoints CANCELED, committed at once so segment splits see it."""
    from renraku.services import calls as call_service

    with ctx.app.store.begin() as conn:
        call_service.mark_reached(
            conn,
            ctx.app_id,
            user_id=ctx.user_id,
            endpoint_id=ctx.endpoint_id,
            address=ctx.address,
            status=mark.status,
            at=iso(at),
            attribute=mark.attribute,
            others=mark.others,
        )
