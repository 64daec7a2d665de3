"""The callee side of the local Twilio simulator: the Calls API plus phones that answer.

``calls_router(script)`` adds ``POST/GET /2010-04-01/Accounts/{sid}/Calls.json`` and
``GET/POST .../Calls/{sid}.json`` to the simulator of ``renraku.simulators.twilio``
(``build_simulator(..., routers=[calls_router(script)])``). For each call created, a phone
following the callee script (the voice simulator's format) rings, answers or not, fetches the TwiML
from the call's ``Url`` (signed with ``X-Twilio-Signature``), "hears" each ``<Say>``, presses the
scripted digits at each ``<Gather>`` (posting them to its ``action``), follows ``<Redirect>``, stops
at ``<Hangup/>``, and posts signed status callbacks (initiated, ringing, in-progress, completed or
busy / no-answer / failed). ``GET /simulator/calls`` lists what every phone heard and pressed.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from renraku.channels.voice_simulator import Callee, Script
from renraku.simulators.twilio import API, SimulatorState

MAX_DOCUMENTS = 50  # a flow that keeps redirecting is cut off


@dataclass
class CallsState:
    script: Script
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def callee(self, number: str) -> Callee:
        return self.script.numbers.get(number) or self.script.default or Callee("no-answer")


def _twilio(request: Request) -> SimulatorState:
    state = request.app.state.twilio
    assert isinstance(state, SimulatorState)
    return state


async def _post(tw: SimulatorState, url: str, params: dict[str, str]) -> httpx.Response | None:
    headers = {"X-Twilio-Signature": tw.sign(url, params)}
    try:
        async with httpx.AsyncClient(timeout=30.0) as client:
            return await client.post(url, data=params, headers=headers)
    except httpx.HTTPError:
        return None


class Phone:
    """One callee working through one call."""

    def __init__(self, tw: SimulatorState, calls: CallsState, call: dict[str, Any]) -> None:
        self.tw = tw
        self.calls = calls
        self.call = call
        self.callee = calls.callee(call["to"])
        self.presses = list(self.callee.digits)
        self.spoken_seconds = 0.0

    def params(self, status: str) -> dict[str, str]:
        p = {
            "CallSid": self.call["sid"],
            "AccountSid": self.tw.account_sid,
            "From": self.call["from"],
            "To": self.call["to"],
            "CallStatus": status,
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
        }
        if self.call.get("answered_by"):
            p["AnsweredBy"] = self.call["answered_by"]
        return p

    async def status(self, status: str, event: str) -> None:
        with self.calls.lock:
            self.call["status"] = status
        url = self.call.get("status_callback")
        if url and (event in self.call["status_events"] or event == "completed"):
            params = self.params(status)
            if status == "completed":
                params["CallDuration"] = str(round(self.spoken_seconds))
            await _post(self.tw, url, params)

    async def run(self) -> None:
        await self.status("queued", "initiated")
        await self.status("ringing", "ringing")
        outcome = self.callee.outcome
        if outcome in ("no-answer", "busy", "failed"):
            await self.status(outcome, "completed")
            return
        if self.call["machine_detection"]:
            self.call["answered_by"] = "machine_end_beep" if outcome == "voicemail" else "human"
        await self.status("in-progress", "answered")
        url: str | None = self.call["url"]
        params = self.params("in-progress")
        for _ in range(MAX_DOCUMENTS):
            if url is None or self.call.get("cancelled"):
                break
            response = await _post(self.tw, url, params)
            if response is None or response.status_code != 200:
                self.call["errors"].append(f"{url}: {response.status_code if response else 'down'}")
                break
            url, params = await self.follow(url, response.text)
        await self.status("completed", "completed")

    def hear(self, node: ET.Element) -> bool:
        """Hear one <Say>; False when the callee hangs up before it ends."""
        text = (node.text or "").strip()
        seconds = max(1.0, len(text) / 8.0)
        limit = self.callee.hangup_after
        full = limit is None or self.spoken_seconds + seconds <= limit
        self.call["heard"].append(
            {
                "text": text,
                "voice": node.get("voice"),
                "language": node.get("language"),
                "heard": "full" if full else "partial",
            }
        )
        self.spoken_seconds += seconds
        return full

    async def follow(self, url: str, twiml: str) -> tuple[str | None, dict[str, str]]:
        """Carry out one TwiML document; the next URL to fetch (None: the call is over)."""
        try:
            root = ET.fromstring(twiml)  # noqa: S314 - TwiML from the server under test
        except ET.ParseError:
            self.call["errors"].append(f"{url}: not TwiML")
            return None, {}
        for verb in root:
            if verb.tag == "Say" and not self.hear(verb):
                return None, {}
            if verb.tag == "Hangup":
                return None, {}
            if verb.tag == "Redirect":
                return urljoin(url, (verb.text or "").strip()), self.params("in-progress")
            if verb.tag == "Gather":
                for inner in verb:
                    if inner.tag == "Say" and not self.hear(inner):
                        return None, {}
                human = self.call.get("answered_by", "human") == "human"
                pressed = self.presses.pop(0) if self.presses and human else None
                if pressed:
                    self.call["pressed"].append(pressed)
                    params = {**self.params("in-progress"), "Digits": pressed}
                    return urljoin(url, verb.get("action") or url), params
                self.spoken_seconds += float(verb.get("timeout") or 5)
        return None, {}


def calls_router(script: Script) -> APIRouter:
    """The Calls API and its phones, following ``script``."""
    calls = CallsState(script)
    router = APIRouter()

    @router.post(API + "/Calls.json")
    async def create_call(request: Request, account_sid: str) -> JSONResponse:
        tw = _twilio(request)
        if not tw.authorised(request, account_sid):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, 401)
        form = await request.form()
        to, from_ = str(form.get("To") or ""), str(form.get("From") or "")
        url = str(form.get("Url") or "")
        if not to.startswith("+") or not url:
            return JSONResponse(
                {"code": 21201, "message": "To and Url are required", "status": 400}, 400
            )
        sid = "CA" + secrets.token_hex(16)
        call: dict[str, Any] = {
            "sid": sid,
            "account_sid": account_sid,
            "to": to,
            "from": from_,
            "url": url,
            "status": "queued",
            "status_callback": str(form.get("StatusCallback") or "") or None,
            "status_events": [str(v) for v in form.getlist("StatusCallbackEvent")],
            "machine_detection": bool(form.get("MachineDetection")),
            "heard": [],
            "pressed": [],
            "errors": [],
        }
        with calls.lock:
            calls.calls[sid] = call
        task = asyncio.create_task(Phone(tw, calls, call).run())
        calls.tasks.add(task)
        task.add_done_callback(calls.tasks.discard)
        return JSONResponse(_public(call), status_code=201)

    @router.get(API + "/Calls/{sid}.json")
    async def fetch_call(request: Request, account_sid: str, sid: str) -> JSONResponse:
        if not _twilio(request).authorised(request, account_sid):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, 401)
        call = calls.calls.get(sid)
        if call is None:
            return JSONResponse({"code": 20404, "message": "not found", "status": 404}, 404)
        return JSONResponse(_public(call))

    @router.post(API + "/Calls/{sid}.json")
    async def update_call(request: Request, account_sid: str, sid: str) -> JSONResponse:
        if not _twilio(request).authorised(request, account_sid):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, 401)
        call = calls.calls.get(sid)
        if call is None:
            return JSONResponse({"code": 20404, "message": "not found", "status": 404}, 404)
        form = await request.form()
        if form.get("Status") in ("completed", "canceled"):
            call["cancelled"] = True
        return JSONResponse(_public(call))

    @router.get("/simulator/calls")
    async def recorded() -> JSONResponse:
        with calls.lock:
            return JSONResponse({"calls": list(calls.calls.values())})

    return router


def _public(call: dict[str, Any]) -> dict[str, Any]:
    return {
        "sid": call["sid"],
        "account_sid": call["account_sid"],
        "to": call["to"],
        "from": call["from"],
        "status": call["status"],
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{call['account_sid']}/Calls/{call['sid']}.json",
    }
