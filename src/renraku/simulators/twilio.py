"""A local Twilio-compatible HTTP API for demos and tests: the ``twilio`` library talks to it.

It serves the Messages resource of the 2010-04-01 API (create, fetch, list) and the Account
resource, checks HTTP basic auth, answers Twilio's error shapes (with Twilio's magic test numbers:
+15005550001 invalid, +15005550009 not SMS-capable, +15005550004 opted out), records every message
and posts signed status callbacks (``queued`` -> ``sent`` -> ``delivered``; ``undelivered`` for
+15005550010). ``POST /simulator/inbound`` makes a phone "reply": the simulator posts a signed
inbound-message webhook to the given URL and returns the TwiML answer.

Other Twilio APIs plug in as routers: ``build_simulator(..., routers=[calls_router])``; a router
reads the shared :class:`SimulatorState` from ``request.app.state.twilio``.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import phonenumbers
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from twilio.request_validator import RequestValidator

from renraku.domain.sms_encoding import measure

API = "/2010-04-01/Accounts/{account_sid}"
INVALID = "+15005550001"
NOT_SMS_CAPABLE = "+15005550009"
OPTED_OUT = "+15005550004"
UNDELIVERABLE = "+15005550010"


@dataclass
class SimulatorState:
    """Accounts, recorded messages and callback deliveries of one simulator."""

    account_sid: str
    auth_token: str
    callback_delay: float = 0.0
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # what was posted, and the answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sign(self, url: str, params: dict[str, str]) -> str:
        return str(RequestValidator(self.auth_token).compute_signature(url, params))

    def authorised(self, request: Request, account_sid: str) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (
            secrets.compare_digest(user, self.account_sid)
            and secrets.compare_digest(password, self.auth_token)
            and account_sid == self.account_sid
        )


def _now() -> str:
    return format_datetime(datetime.now(UTC))


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def _state(request: Request) -> SimulatorState:
    state = request.app.state.twilio
    assert isinstance(state, SimulatorState)
    return state


messages_router = APIRouter()


@messages_router.get(API + ".json")
async def fetch_account(request: Request, account_sid: str) -> JSONResponse:
    state = _state(request)
    if not state.authorised(request, account_sid):
        return _error(401, 20003, "Authenticate")
    return JSONResponse(
        {
            "sid": account_sid,
            "friendly_name": "renraku simulator",
            "status": "active",
            "type": "Full",
        }
    )


@messages_router.post(API + "/Messages.json")
async def create_message(request: Request, account_sid: str) -> JSONResponse:
    state = _state(request)
    if not state.authorised(request, account_sid):
        return _error(401, 20003, "Authenticate")
    form = {k: str(v) for k, v in (await request.form()).items()}
    to, body = form.get("To", ""), form.get("Body", "")
    sender = form.get("From") or form.get("MessagingServiceSid") or ""
    if not to:
        return _error(400, 21604, "A 'To' phone number is required.")
    if not sender:
        return _error(400, 21603, "A 'From' phone number is required.")
    if not body:
        return _error(400, 21602, "Message body is required.")
    if to == INVALID or not _valid(to):
        return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    if to == NOT_SMS_CAPABLE:
        return _error(400, 21614, f"'To' number {to} is not a valid mobile number")
    if to == OPTED_OUT:
        return _error(400, 21610, "Attempt to send to unsubscribed recipient")
    if len(body) > 1600:
        return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    sid = "SM" + secrets.token_hex(16)
    length = measure(body)
    message: dict[str, Any] = {
        "sid": sid,
        "account_sid": account_sid,
        "to": to,
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "body": body,
        "status": "queued",
        "num_segments": str(length.segments),
        "num_media": "0",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "price": None,
        "price_unit": "USD",
        "error_code": None,
        "error_message": None,
        "date_created": _now(),
        "date_updated": _now(),
        "date_sent": None,
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        "subresource_uris": {},
        "status_callback": form.get("StatusCallback"),
    }
    with state.lock:
        state.messages[sid] = message
    callback = form.get("StatusCallback")
    if callback:
        asyncio.get_running_loop().create_task(_progress(state, sid, callback))
    public = {k: v for k, v in message.items() if k != "status_callback"}
    return JSONResponse(public, status_code=201)


@messages_router.get(API + "/Messages/{sid}.json")
async def fetch_message(request: Request, account_sid: str, sid: str) -> JSONResponse:
    state = _state(request)
    if not state.authorised(request, account_sid):
        return _error(401, 20003, "Authenticate")
    message = state.messages.get(sid)
    if message is None:
        return _error(404, 20404, f"The requested resource {request.url.path} was not found")
    return JSONResponse({k: v for k, v in message.items() if k != "status_callback"})


@messages_router.get(API + "/Messages.json")
async def list_messages(request: Request, account_sid: str) -> JSONResponse:
    state = _state(request)
    if not state.authorised(request, account_sid):
        return _error(401, 20003, "Authenticate")
    to = request.query_params.get("To")
    items = [
        {k: v for k, v in m.items() if k != "status_callback"}
        for m in state.messages.values()
        if to is None or m["to"] == to
    ]
    return JSONResponse(
        {
            "messages": items,
            "end": max(len(items) - 1, 0),
            "first_page_uri": request.url.path,
            "next_page_uri": None,
            "page": 0,
            "page_size": len(items),
            "previous_page_uri": None,
            "start": 0,
            "uri": request.url.path,
        }
    )


@messages_router.post("/simulator/inbound")
async def inbound(request: Request) -> JSONResponse:
    """Deliver a reply from a phone: JSON ``{"From", "To", "Body", "Url"}``; returns the answer."""
    state = _state(request)
    data = await request.json()
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": state.account_sid,
        "From": str(data["From"]),
        "To": str(data["To"]),
        "Body": str(data["Body"]),
        "NumMedia": "0",
    }
    answer = await _post_signed(state, str(data["Url"]), params)
    return JSONResponse(answer)


@messages_router.get("/simulator/messages")
async def recorded(request: Request) -> JSONResponse:
    state = _state(request)
    return JSONResponse({"messages": list(state.messages.values()), "callbacks": state.callbacks})


def _valid(number: str) -> bool:
    try:
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(number, None)))
    except phonenumbers.NumberParseException:
        return False


async def _post_signed(state: SimulatorState, url: str, params: dict[str, str]) -> dict[str, Any]:
    headers = {"X-Twilio-Signature": state.sign(url, params)}
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.post(url, data=params, headers=headers)
        answer: dict[str, Any] = {"status": response.status_code, "body": response.text}
    except httpx.HTTPError as exc:
        answer = {"status": None, "body": f"{type(exc).__name__}: {exc}"}
    with state.lock:
        state.callbacks.append({"url": url, "params": params, **answer})
    return answer


async def _progress(state: SimulatorState, sid: str, callback: str) -> None:
    """Walk a message through its statuses, posting a signed callback for each."""
    message = state.messages[sid]
    final = "undelivered" if message["to"] == UNDELIVERABLE else "delivered"
    for status in ("sent", final):
        await asyncio.sleep(state.callback_delay)
        with state.lock:
            message["status"] = status
            message["date_updated"] = _now()
            if status == "undelivered":
                message["error_code"] = 30003
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": state.account_sid,
            "From": str(message["from"] or ""),
            "To": str(message["to"]),
            "MessageStatus": status,
            "SmsStatus": status,
        }
        if status == "undelivered":
            params["ErrorCode"] = "30003"
        await _post_signed(state, callback, params)


def build_simulator(
    account_sid: str,
    auth_token: str,
    *,
    routers: Iterable[APIRouter] = (),
    callback_delay: float = 0.0,
) -> FastAPI:
    """The simulator as an ASGI app; ``routers`` add more Twilio APIs (e.g. Calls)."""
    app = FastAPI(title="Twilio-compatible simulator", docs_url=None, redoc_url=None)
    app.state.twilio = SimulatorState(account_sid, auth_token, callback_delay)
    app.include_router(messages_router)
    for router in routers:
        app.include_router(router)
    return app


class TwilioSimulator:
    """Runs a simulator with uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SimulatorState:
        state = self.app.state.twilio
        assert isinstance(state, SimulatorState)
        return state

    @property
    def url(self) -> str:
        sockets = self.server.servers[0].sockets
        host, port = sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.server.run, name="twilio-simulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Twilio simulator did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


@contextmanager
def running(
    account_sid: str = "AC" + "0" * 32,
    auth_token: str = "simulator-token",  # noqa: S107 (a local simulator's own token)
    *,
    routers: Iterable[APIRouter] = (),
    port: int = 0,
) -> Iterator[TwilioSimulator]:
    """A started simulator for the length of the block."""
    simulator = TwilioSimulator(
        build_simulator(account_sid, auth_token, routers=routers), port=port
    )
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()
