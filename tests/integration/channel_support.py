"""Helpers shared by the channel integration tests: an application with endpoints, a channel."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from renraku.app import App, SystemClock
from renraku.channels.base import Delivery
from renraku.channels.config import PolicySettings, WebhookSettings
from renraku.channels.pipeline import PolicedChannel, Transport
from renraku.domain.endpoints import Endpoint
from renraku.settings import Settings
from renraku.store import Store
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import events as event_store

NOW = "2026-11-26T03:00:00.000Z"


def make_app(store: Store) -> str:
    with store.begin() as conn:
        return str(app_store.create_app(conn, f"app-{uuid.uuid4().hex[:8]}", now=NOW)["Id"])


def add_endpoint(store: Store, app_id: str, channel: str, address: str, **fields: Any) -> Endpoint:
    endpoint = Endpoint(
        app_id=app_id,
        id=fields.pop("id", uuid.uuid4().hex),
        channel_type=channel,
        address=address,
        creation_date=NOW,
        **fields,
    )
    with store.begin() as conn:
        endpoint_store.upsert_many(conn, [endpoint])
    return endpoint


def delivery(endpoint: Endpoint, template: str | None = None, **config: Any) -> Delivery:
    return Delivery(
        key=f"j1:{endpoint.participant}:a1:0:{endpoint.id}:{uuid.uuid4().hex[:6]}",
        app_id=endpoint.app_id,
        channel=endpoint.channel_type,
        endpoint=endpoint,
        template=template,
        config=config,
        journey_id="j1",
        activity_id="a1",
    )


def channel(
    transport: Transport,
    store: Store,
    *,
    policies: PolicySettings | None = None,
    public_url: str = "https://renraku.example",
    sleeps: list[float] | None = None,
) -> PolicedChannel:
    recorded = sleeps if sleeps is not None else []
    return PolicedChannel(
        transport,
        store,
        policies or PolicySettings(),
        WebhookSettings(public_url=public_url),
        sleep=recorded.append,
    )


def events_of(store: Store, app_id: str, endpoint_id: str) -> list[dict[str, Any]]:
    with store.connect() as conn:
        return event_store.timeline(conn, app_id, endpoint_ids=[endpoint_id])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(asgi_app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(asgi_app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "server thread ended"
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def hooks_api(app: App) -> Any:
    """A FastAPI app serving the hooks router over ``app``, as ``renraku serve`` mounts it."""
    from fastapi import FastAPI

    from renraku.api.hooks import router

    api = FastAPI()
    api.state.renraku = app
    api.include_router(router)
    return api


def make_renraku(store: Store, settings: Settings) -> App:
    return App(settings=settings, store=store, clock=SystemClock())


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until ``predicate`` returns something truthy (for callbacks that arrive later)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def sqlite_store(tmp_path: Any) -> Iterator[Store]:
    """A migrated SQLite store, for tests of provider behaviour rather than of the store contract
    (the pipeline's store use is covered on both dialects by the email and SMS tests)."""
    opened = Store.open(f"sqlite:///{tmp_path / 'renraku.db'}")
    try:
        yield opened
    finally:
        opened.close()


def self_signed(common_name: str, ip: str | None = None) -> tuple[Any, Any]:
    """An RSA key and a self-signed certificate for ``common_name`` (and ``ip``), valid today."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        )
    return key, builder.sign(key, hashes.SHA256())


@contextmanager
def sns_signing() -> Iterator[tuple[Any, str]]:
    """An RSA key and its certificate served over HTTP, standing in for SNS's signing certificate."""
    from cryptography.hazmat.primitives import serialization
    from fastapi import FastAPI, Response

    key, cert = self_signed("sns.us-east-1.amazonaws.com")
    pem = cert.public_bytes(serialization.Encoding.PEM)
    certs = FastAPI()

    @certs.get("/SimpleNotificationService.pem")
    def pem_file() -> Response:
        return Response(pem, media_type="application/x-pem-file")

    with serve(certs) as url:
        yield key, url + "/SimpleNotificationService.pem"


def signed_sns(
    key: Any, cert_url: str, notification: dict[str, Any], version: str = "2"
) -> dict[str, Any]:
    """An SNS Notification carrying ``notification`` as its Message, signed with ``key``."""
    import base64
    import json

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from renraku.channels.sns_verify import string_to_sign

    message = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:events",
        "Message": json.dumps(notification),
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "SignatureVersion": version,
        "SigningCertURL": cert_url,
    }
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
    signature = key.sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
    message["Signature"] = base64.b64encode(signature).decode()
    return message


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a free loopback port; yields its URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
