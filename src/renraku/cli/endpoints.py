"""``renraku endpoints``: read and update endpoints and users."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, load_json_arg, state
from renraku.domain.endpoints import Endpoint
from renraku.errors import InvalidInput
from renraku.services import endpoints as endpoint_service

group = typer.Typer(help="Endpoints (one address on one channel) and users.", no_args_is_help=True)


def _table(eps: list[Endpoint]) -> Table:
    table = Table("Id", "Channel", "Address", "User", "OptOut", "Attributes")
    for ep in eps:
        attrs = ", ".join(f"{k}={'|'.join(v)}" for k, v in ep.attributes.items())
        table.add_row(ep.id, ep.channel_type, ep.address, ep.user_id or "", ep.opt_out, attrs)
    return table


@group.command("get")
def get(
    ctx: typer.Context,
    endpoint_id: Annotated[str, typer.Argument(help="Endpoint id.")],
    json_out: JsonOpt = False,
) -> None:
    """Show one endpoint (Pinpoint's EndpointResponse)."""
    st = state(ctx)
    ep = endpoint_service.get_endpoint(st.app, st.app_id(), endpoint_id)
    emit(ep.to_pinpoint(), json_out, lambda: console.print(_table([ep])))


@group.command("user")
def user(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="User.UserId")],
    json_out: JsonOpt = False,
) -> None:
    """Show every endpoint of a user (Pinpoint's GetUserEndpoints: {"Item": [...]})."""
    st = state(ctx)
    eps = endpoint_service.user_endpoints(st.app, st.app_id(), user_id)
    emit({"Item": [ep.to_pinpoint() for ep in eps]}, json_out, lambda: console.print(_table(eps)))


@group.command("update")
def update(
    ctx: typer.Context,
    endpoint_id: Annotated[str, typer.Argument(help="Endpoint id (created if new).")],
    request: Annotated[
        str,
        typer.Argument(help="Pinpoint EndpointRequest JSON, inline, @FILE, or - for stdin."),
    ] = "-",
    default_region: Annotated[
        str | None,
        typer.Option("--default-region", help="Region for national phone numbers, e.g. JP."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create or partially update an endpoint with Pinpoint's EndpointRequest JSON."""
    st = state(ctx)
    body = load_json_arg(request)
    if not isinstance(body, dict):
        raise InvalidInput("the EndpointRequest must be a JSON object", subject="endpoint request")
    ep = endpoint_service.update_endpoint(
        st.app, st.app_id(), endpoint_id, body, default_region=default_region
    )
    emit(ep.to_pinpoint(), json_out, lambda: console.print(_table([ep])))
