"""TwiML routes: Twilio asks renraku what to do next on a call, one flow step at a time.

``POST /twilio/voice/{call}`` (the callee answered), ``POST /twilio/voice/{call}/gather`` (digits
pressed, or ``?timeout=1`` when none came) and ``POST /twilio/voice/{call}/status`` (status
callbacks: initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled). Every
request must carry a valid ``X-Twilio-Signature`` (``[voice.twilio] auth_token``) or is refused
with 403. Twilio signs no time, so replays are refused by what they name: a gather's URL carries
the number of inputs the call had when it was rendered (``?input=N``, covered by the signature),
and one that does not match the call's state repeats where the call waits instead of advancing
it; a status callback is applied once per (call, CallStatus, SequenceNumber) and a repeat is
answered 200 and changes nothing. Each step renders ``<Say voice="Polly.Kazuha-Neural" language="ja-JP">``,
``<Gather input="dtmf" numDigits timeout action>`` and ``<Hangup/>``.

Mount with ``api.include_router(build_router(app))``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather as TwimlGather
from twilio.twiml.voice_response import VoiceResponse

from renraku.api.hooks.replay import DUPLICATE, AlreadyReceived, expire_twilio_receipts, receipt
from renraku.app import App
from renraku.domain.flows import (
    Answered,
    CallState,
    Command,
    Digits,
    Disconnect,
    Event,
    Gather,
    InputTimeout,
    Say,
    new_call,
)
from renraku.domain.flows.interpreter import pending
from renraku.domain.flows.voices import twilio_voice
from renraku.services import calls as call_service
from renraku.services.call_functions import FunctionInvoker, RuntimeInvoker
from renraku.services.call_runner import CallContext, apply_reached, drive
from renraku.store import calls as call_store
from renraku.store import webhook_receipts as receipts
from renraku.store.webhook_receipts import Receipt

T = TypeVar("T")

TWIML = "application/xml"
_TAG = re.compile(r"<[^>]+>")

# Twilio's CallStatus -> renraku's outcome (in-progress calls have none yet).
FINAL_STATUS = {"busy": "BUSY", "no-answer": "NO_ANSWER", "failed": "FAILED", "canceled": "FAILED"}


def _amd(answered_by: str) -> str:
    if answered_by == "machine_end_beep":
        return "VoicemailBeep"
    if answered_by.startswith("machine") or answered_by == "fax":
        return "VoicemailNoBeep"
    return "CallAnswered"


def _say(response: VoiceResponse | TwimlGather, say: Say) -> None:
    if say.prompt_id.startswith(("http://", "https://")):
        response.play(say.prompt_id)
        return
    text = _TAG.sub("", say.ssml) if say.ssml and not say.text else say.words
    response.say(text, voice=twilio_voice(say.voice, say.engine), language=say.language)


def render(commands: Sequence[Command], base: str, inputs: int = 0) -> str:
    """TwiML for one flow step; ``inputs`` is how many inputs the call has had before it."""
    response = VoiceResponse()
    for cmd in commands:
        if isinstance(cmd, Say):
            _say(response, cmd)
        elif isinstance(cmd, Gather):
            gather = TwimlGather(
                input="dtmf",
                num_digits=cmd.max_digits,
                timeout=max(1, round(cmd.timeout_seconds)),
                action=f"{base}/gather?input={inputs}",
                method="POST",
                finish_on_key=cmd.terminator,
            )
            if cmd.prompt is not None:
                _say(gather, cmd.prompt)
            response.append(gather)
            # Twilio falls through to the next verb when no digit came: that is the time-out.
            response.redirect(f"{base}/gather?input={inputs}&timeout=1", method="POST")
        elif isinstance(cmd, Disconnect):
            response.hangup()
    return str(response)


class TwimlRoutes:
    def __init__(self, app: App, invoker: FunctionInvoker | None = None) -> None:
        self.app = app
        channel_invoker = getattr(app.channels.get("VOICE"), "invoker", None)
        self.invoker = invoker or channel_invoker or RuntimeInvoker(app.settings, app)
        self.cfg = app.settings.voice.twilio
        self.public_url = (self.cfg.public_url or app.settings.webhooks.public_url).rstrip("/")

    def verified(self, request: Request, form: Mapping[str, str]) -> bool:
        token = self.cfg.auth_token
        if token is None:
            return False
        validator = RequestValidator(token.get_secret_value())
        signature = request.headers.get("X-Twilio-Signature", "")
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        urls = [self.public_url + path, str(request.url)]
        return any(validator.validate(url, dict(form), signature) for url in urls)

    def base(self, call_id: str) -> str:
        return self.public_url + f"/twilio/voice/{call_id}"

    def step(self, call_id: str, form: Mapping[str, str], kind: str, input_no: str = "") -> str:
        with self.app.store.connect() as conn:
            call = call_store.by_contact_id(conn, call_id)
        if call is None or call["Outcome"] is not None:
            return str(VoiceResponse().hangup())
        app_id = call["ApplicationId"]
        state = (
            CallState.from_json(call["State"])
            if call["State"]
            else new_call(
                call["FlowId"],
                contact_id=call_id,
                customer_address=call["CustomerAddress"],
                attributes=call["Attributes"] or {},
                instance_id=app_id,
                system_address=call["SystemAddress"] or "",
            )
        )
        event: Event
        values: dict[str, Any] = {}
        if kind == "answer":
            event = Answered(_amd(form.get("AnsweredBy", "human")))
            values = {
                "Status": "IN_PROGRESS",
                "AnsweredAt": call["AnsweredAt"] or self.app.now_iso(),
            }
        elif form.get("Digits"):
            event = Digits(form["Digits"])
        else:
            event = InputTimeout()
        ctx = CallContext(
            app=self.app,
            app_id=app_id,
            call_id=call_id,
            user_id=call["UserId"],
            endpoint_id=call["EndpointId"],
            address=call["CustomerAddress"],
            invoker=self.invoker,
            on_reached=apply_reached,
        )
        now = self.app.clock.now()
        if isinstance(event, Digits | InputTimeout):
            ctx.log.append(
                {
                    "At": self.app.now_iso(),
                    "Action": state.action,
                    "Kind": "Input",
                    "Digits": form.get("Digits", ""),
                    "TimedOut": isinstance(event, InputTimeout),
                }
            )

        def repeat() -> str:
            waiting = pending(ctx.flow(state.flow_id), state)
            return render(waiting, self.base(call_id), len(state.inputs))

        if (kind == "answer" and state.path) or (
            kind == "gather" and input_no != str(len(state.inputs))
        ):  # Twilio asked again, or a gather was replayed: repeat where the call waits
            return repeat()

        def advance() -> str:
            after, commands = drive(ctx, state, event, now)
            for cmd in commands:
                say = cmd.prompt if isinstance(cmd, Gather) else cmd
                if isinstance(say, Say):
                    ctx.log.append(
                        {
                            "At": self.app.now_iso(),
                            "Action": say.action,
                            "Kind": "Say",
                            "Text": say.words,
                            "Voice": say.voice,
                            "Engine": say.engine,
                            "Language": say.language,
                        }
                    )
            call_service.save_progress(
                self.app, app_id, call_id, state=after.to_json(), transcript=ctx.log, values=values
            )
            return render(commands, self.base(call_id), len(after.inputs))

        if kind != "gather":
            return advance()
        # Two copies of one gather at the same moment: the input number alone cannot tell.
        twiml = self._once(receipt("twilio-voice", call_id, "gather", input_no), advance)
        return repeat() if twiml is None else twiml

    def status(self, call_id: str, form: Mapping[str, str]) -> bool:
        """Apply a status callback once; False when it was applied before."""
        once = receipt(
            "twilio-voice", call_id, form.get("CallStatus", ""), form.get("SequenceNumber", "")
        )

        def apply() -> bool:
            self._status(call_id, form)
            return True

        return self._once(once, apply) is not None

    def _once(self, once: Receipt, apply: Callable[[], T]) -> T | None:
        """``apply()`` unless ``once`` was claimed before (then None); a failed ``apply`` releases
        the claim, so the provider's retry is applied."""
        try:
            with self.app.store.begin() as conn:
                receipts.claim(conn, once)
        except AlreadyReceived:
            return None
        try:
            return apply()
        except BaseException:
            with self.app.store.begin() as conn:
                receipts.release(conn, once)
            raise

    def _status(self, call_id: str, form: Mapping[str, str]) -> None:
        with self.app.store.connect() as conn:
            call = call_store.by_contact_id(conn, call_id)
        if call is None or call["Outcome"] is not None:
            return
        app_id = call["ApplicationId"]
        status = form.get("CallStatus", "")
        if status in ("initiated", "queued"):
            return
        if status in ("ringing", "in-progress"):
            new = "RINGING" if status == "ringing" else "IN_PROGRESS"
            call_service.save_progress(self.app, app_id, call_id, values={"Status": new})
            return
        state = CallState.from_json(call["State"]) if call["State"] else None
        if status == "completed":
            machine = form.get("AnsweredBy", "").startswith("machine")
            outcome = "VOICEMAIL" if machine else "ANSWERED"
            if state is None:
                outcome, reason = "NO_ANSWER", "no answer"
            else:
                reason = state.end_reason or "customer hung up"
        elif status in FINAL_STATUS:
            outcome = FINAL_STATUS[status]
            reason = status.replace("-", " ")
        else:
            return
        call_service.finish(
            self.app,
            app_id,
            call_id,
            outcome=outcome,
            digits=state.digits if state is not None and outcome == "ANSWERED" else "",
            reason=reason,
        )


def build_router(app: App, invoker: FunctionInvoker | None = None) -> APIRouter:
    """The TwiML and call-status routes over ``app``."""
    routes = TwimlRoutes(app, invoker)
    router = APIRouter(tags=["twilio-voice"], include_in_schema=False)

    async def form_of(request: Request) -> dict[str, str] | None:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not routes.verified(request, form):
            return None
        await expire_twilio_receipts(request, app)
        return form

    @router.post("/twilio/voice/{call_id}")
    async def answer(request: Request, call_id: str) -> Response:
        form = await form_of(request)
        if form is None:
            return Response("invalid X-Twilio-Signature", status_code=403)
        twiml = await run_in_threadpool(routes.step, call_id, form, "answer")
        return Response(twiml, media_type=TWIML)

    @router.post("/twilio/voice/{call_id}/gather")
    async def gather(request: Request, call_id: str) -> Response:
        form = await form_of(request)
        if form is None:
            return Response("invalid X-Twilio-Signature", status_code=403)
        input_no = request.query_params.get("input", "")
        twiml = await run_in_threadpool(routes.step, call_id, form, "gather", input_no)
        return Response(twiml, media_type=TWIML)

    @router.post("/twilio/voice/{call_id}/status")
    async def status(request: Request, call_id: str) -> Response:
        form = await form_of(request)
        if form is None:
            return Response("invalid X-Twilio-Signature", status_code=403)
        if not await run_in_threadpool(routes.status, call_id, form):
            return Response(DUPLICATE, status_code=200)
        return Response(status_code=204)

    return router
