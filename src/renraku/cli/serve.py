"""``renraku serve``: the HTTP API (native ``/api/v1``, Pinpoint-compatible ``/v1``, health, metrics)."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from renraku.cli.common import err_console, state


def serve_command(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on.")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Worker processes (default 1).")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    print_openapi: Annotated[
        bool,
        typer.Option("--print-openapi", help="Print the native API's OpenAPI document and exit."),
    ] = False,
) -> None:
    """Serve the HTTP API until interrupted (defaults from \\[server] in renraku.toml)."""
    import uvicorn

    from renraku.api.keyring import load_master_key
    from renraku.api.server import SCHEMA_READY_ENV, create_api
    from renraku.masking import uvicorn_log_config

    cli_state = state(ctx)
    if print_openapi:
        document = create_api(cli_state.app).openapi()
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    settings = cli_state.settings
    server = settings.server
    # Migrate once here; the worker processes then open the store without migrating.
    cli_state.app.close()
    load_master_key(settings)
    # Workers rebuild the settings from the environment, so pass the global options on.
    if cli_state.db:
        os.environ["RENRAKU_DB"] = cli_state.db
    if cli_state.config:
        os.environ["RENRAKU_CONFIG"] = str(cli_state.config)
    if cli_state.app_key:
        os.environ["RENRAKU_APP"] = cli_state.app_key
    os.environ[SCHEMA_READY_ENV] = "1"
    bind_host = host or server.host
    bind_port = server.port if port is None else port
    count = workers or server.workers
    err_console.print(
        f"renraku serving on http://{bind_host}:{bind_port} ({count} worker(s)); "
        f"Pinpoint clients: AWS_ENDPOINT_URL_PINPOINT=http://{bind_host}:{bind_port}",
        highlight=False,
    )
    uvicorn.run(
        "renraku.api.server:api_from_environment",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=count,
        log_level=log_level,
        access_log=False,
        log_config=uvicorn_log_config(),
        proxy_headers=False,
        # Clients keep pooled connections (boto3, SDKs); closing them after uvicorn's default 5 s
        # idle races a client that is just sending on one.
        timeout_keep_alive=30,
        # The supervisor kills a worker that does not answer its ping in time; on a busy host a
        # starting worker (imports, store) can take longer than uvicorn's 5 s default.
        timeout_worker_healthcheck=60,
    )
