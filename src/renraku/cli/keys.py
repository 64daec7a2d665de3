"""``renraku keys``: API keys for the HTTP API (bearer tokens and SigV4 credentials)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from renraku.api import keyring
from renraku.cli.common import JsonOpt, console, emit, state
from renraku.store import apps as app_store

group = typer.Typer(
    help="API keys: each belongs to one application (or is an administrator key).",
    no_args_is_help=True,
)


AppOpt = Annotated[
    str | None,
    typer.Option("--app", help="Application id or name (overrides the global --app)."),
]


@group.command("create")
def create(
    ctx: typer.Context,
    app_key: AppOpt = None,
    admin: Annotated[
        bool,
        typer.Option("--admin", help="A key for every application, which may create applications."),
    ] = False,
    description: Annotated[str, typer.Option("--description", help="What the key is for.")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Create a key for the selected application (--app); the secret is shown only now."""
    cli_state = state(ctx)
    record = keyring.create_key(
        cli_state.app, app_key or cli_state.settings.app, description=description, admin=admin
    )

    def render() -> None:
        scope = "every application" if admin else f"application {record['ApplicationId']}"
        console.print(f"Created access key for {scope}. The secret is shown once; keep it safe.")
        console.print(f"  AccessKeyId:     {record['AccessKeyId']}")
        console.print(f"  SecretAccessKey: {record['SecretAccessKey']}")
        console.print(f"  Bearer token:    {record['AccessKeyId']}.{record['SecretAccessKey']}")

    emit(record, json_out, render)


@group.command("list")
def list_(
    ctx: typer.Context,
    app_key: AppOpt = None,
    all_apps: Annotated[bool, typer.Option("--all", help="Keys of every application.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List keys (never their secrets)."""
    cli_state = state(ctx)
    if all_apps:
        app_id = None
    elif app_key:
        with cli_state.app.store.connect() as conn:
            app_id = str(app_store.resolve_app(conn, app_key)["Id"])
    else:
        app_id = cli_state.app_id()
    items = keyring.list_keys(cli_state.app, app_id)

    def render() -> None:
        table = Table("AccessKeyId", "Application", "Status", "Created", "Description")
        for item in items:
            table.add_row(
                item["AccessKeyId"],
                item["ApplicationId"] or "(admin)",
                item["Status"],
                item["CreatedAt"],
                item["Description"],
            )
        console.print(table)

    emit({"Item": items}, json_out, render)


@group.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The AccessKeyId.")],
    json_out: JsonOpt = False,
) -> None:
    """Revoke a key; servers refuse it within \\[server] key_cache_seconds."""
    record = keyring.revoke_key(state(ctx).app, key_id)
    emit(record, json_out, lambda: console.print(f"Revoked {record['AccessKeyId']}."))
