"""Shared set-up for the voice tests: an App on a fixed clock, the seed's user, the seed's flow."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn

from renraku.app import App, build_app
from renraku.channels.base import Delivery
from renraku.domain.endpoints import Endpoint
from renraku.services import endpoints as endpoint_service
from renraku.services import flows as flow_service
from renraku.settings import Settings
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEED_FUNCTION = "update-call-status"


class FixedClock:
    """A clock the test moves by hand (the journey clock in virtual mode behaves the same)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


START = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo


def make_app(db_url: str, **voice: Any) -> tuple[App, FixedClock]:
    clock = FixedClock(START)
    settings = Settings(db=db_url, voice=voice)
    return build_app(settings, clock=clock), clock


def seed_user(app: App, user: str = "User1", phone: str = "+819011111111") -> tuple[str, Endpoint]:
    """The seed's three rows for ``user``; returns the app id and the call endpoint."""
    with app.store.begin() as conn:
        try:
            app_id = str(app_store.get_app(conn, "seed")["Id"])
        except Exception:
            app_id = str(app_store.create_app(conn, "seed", now=app.now_iso())["Id"])
        rows = [
            ("CUSTOM", phone, "Custom"),
            ("SMS", phone, "SMS"),
            ("EMAIL", f"{user.lower()}@example.com", "EMAIL"),
        ]
        eps = [
            Endpoint(
                app_id=app_id,
                id=f"{user}-{suffix}",
                channel_type=channel,
                address=address,
                user_id=user,
                attributes={"CallStatus": ["Pending"], "Index": [f"{user}-{suffix}"]},
                creation_date=app.now_iso(),
            )
            for channel, address, suffix in rows
        ]
        endpoint_store.upsert_many(conn, eps)
    return app_id, eps[0]


def seed_flow(app: App, app_id: str, name: str = "seed-flow.json") -> dict[str, Any]:
    data = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return flow_service.create(
        app, app_id, data, name=flow_service.default_name(data, name), source=name
    )


def seed_status_function(app: App, app_id: str) -> Any:
    """The seed's status-update Lambda, acting through renraku's endpoint use cases: the call
    endpoint becomes COMPLETED, the user's SMS and EMAIL endpoints CANCELED."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
        user_id = event["Details"]["Parameters"]["userId"]
        for ep in endpoint_service.user_endpoints(app, app_id, user_id):
            index = ep.attributes["Index"][0]
            status = "COMPLETED" if index == user_id + "-Custom" else "CANCELED"
            endpoint_service.update_endpoint(
                app, app_id, ep.id, {"Attributes": {"CallStatus": [status]}}
            )
        return {"status": "updated"}

    return handler


def delivery(app_id: str, ep: Endpoint, key: str = "send-1", **config: Any) -> Delivery:
    return Delivery(
        key=key,
        app_id=app_id,
        channel="VOICE",
        endpoint=ep,
        config={"ContactFlowId": "pinpoint-connect-demo-flow-BB", **config},
    )


def call_status(app: App, app_id: str, user: str = "User1") -> dict[str, str]:
    eps = endpoint_service.user_endpoints(app, app_id, user)
    return {ep.channel_type: ep.attributes["CallStatus"][0] for ep in eps}


def reserve_port() -> socket.socket:
    """A bound loopback socket, so a URL is known before its server is built."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serve(asgi: Any, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve an ASGI app on a loopback port (a real uvicorn server); yields its base URL."""
    sock = sock or reserve_port()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextlib.contextmanager
def twilio_world(
    db_url: str, sid: str, token: str, script: Any
) -> Iterator[tuple[App, str, Any, str]]:
    """The seed's user and flow on an App calling through the local Twilio simulator (whose phones
    follow ``script``), with renraku's TwiML routes served; yields app, app id, simulator and the
    public URL of the routes."""
    from fastapi import FastAPI

    from renraku.api.twiml import build_router
    from renraku.channels.voice_simulator import parse_script
    from renraku.channels.voice_twilio import TwilioVoice
    from renraku.services.call_functions import LocalInvoker
    from renraku.simulators import twilio as twilio_sim
    from renraku.simulators.twilio_calls import calls_router

    with twilio_sim.running(sid, token, routers=[calls_router(parse_script(script))]) as sim:
        sock = reserve_port()
        public = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app, _ = make_app(
            db_url,
            provider="twilio",
            capacity={"calls_per_second": 100},
            twilio={
                "account_sid": sid,
                "auth_token": token,
                "from_number": "+815012345678",
                "public_url": public,
                "base_url": sim.url,
            },
        )
        app_id, _ = seed_user(app)
        seed_flow(app, app_id)
        voice = app.channels["VOICE"]
        assert isinstance(voice, TwilioVoice)
        voice.invoker = LocalInvoker({SEED_FUNCTION: seed_status_function(app, app_id)})
        api = FastAPI()
        api.include_router(build_router(app))
        with serve(api, sock):
            yield app, app_id, sim, public
        app.close()
