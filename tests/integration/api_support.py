"""Helpers for the HTTP API tests: a real uvicorn server in a thread, keys, and boto3 clients.

Responses are checked against botocore's own Pinpoint model: every raw body a client receives
must validate against the operation's output payload shape, unknown members included.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import uvicorn
from botocore.config import Config
from botocore.model import OperationModel
from botocore.validate import ParamValidator

from renraku.api import keyring
from renraku.api.server import create_api
from renraku.app import App, build_app
from renraku.settings import load_settings


def make_app(db_url: str, tmp_path: Path, **server: Any) -> App:
    """An App on ``db_url`` with its master key in ``tmp_path`` and ``server`` settings on top."""
    settings = load_settings(
        db=db_url,
        server={"master_key_file": str(tmp_path / "master.key"), **server},
    )
    return build_app(settings)


@contextmanager
def live_server(app: App, **options: Any) -> Iterator[str]:
    """Serve ``create_api(app)`` on a free loopback port (``options`` go to uvicorn's Config:
    ``ssl_certfile`` and ``ssl_keyfile`` serve https); yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_api(app), log_level="warning", access_log=False, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.01)
    try:
        yield f"{'https' if 'ssl_certfile' in options else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def admin_key(app: App) -> dict[str, Any]:
    return keyring.create_key(app, None, admin=True)


def app_key(app: App, app_id: str) -> dict[str, Any]:
    return keyring.create_key(app, app_id)


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['AccessKeyId']}.{key['SecretAccessKey']}"}


class ShapeChecker:
    """Validates each raw Pinpoint response body against botocore's output payload shape."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.problems: list[str] = []

    def __call__(
        self, operation_model: OperationModel, response_dict: dict[str, Any], **_: Any
    ) -> None:
        status = response_dict["status_code"]
        if status >= 300:
            return
        shape = operation_model.output_shape
        assert shape is not None
        member = shape.serialization["payload"]
        body = json.loads(response_dict["body"])
        report = ParamValidator().validate(body, shape.members[member])
        if report.has_errors():
            self.problems.append(f"{operation_model.name}: {report.generate_report()}")
        self.checked.append(operation_model.name)


def pinpoint_client(
    url: str | None, key: dict[str, Any], *, checker: ShapeChecker | None = None, retries: int = 1
) -> Any:
    """An unmodified boto3 Pinpoint client for ``key`` (``url=None``: from the environment)."""
    client = boto3.client(
        "pinpoint",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": retries, "mode": "standard"}),
    )
    if checker is not None:
        client.meta.events.register("before-parse.pinpoint.*", checker)
    return client
