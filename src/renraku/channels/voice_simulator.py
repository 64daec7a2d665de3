"""The embedded virtual phone network: places VOICE calls on the journey clock.

A callee script (``[voice.simulator] script``, JSON or YAML) says per E.164 number what happens::

    numbers:
      "+819011111111": {outcome: answered, ring_seconds: 5, digits: ["1"]}
      "+819022222222": {outcome: answered, hangup_after: 3}      # hangs up mid-prompt
      "+819033333333": {outcome: busy}
    default: {outcome: no-answer}

``outcome`` is answered | no-answer | busy | voicemail | failed; ``digits`` are pressed at each input
prompt in order (a missing entry, null or "" lets the prompt time out); ``hangup_after`` counts
seconds from the answer. Numbers not listed follow ``default``, else a seeded random model (answer,
voicemail, busy and press rates, answer rate by the callee's local hour).

On placement the whole call is computed at once: ring time, each prompt spoken (its length from the
text), digits, functions run, the end. Outcome and transcript are recorded with their simulated
times, so the ``call.completed`` event may lie in the future of the journey clock; the engine sees it
when its clock gets there.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import phonenumbers
import yaml
from phonenumbers import timezone as phone_timezone

from renraku.channels.base import Delivery, DeliveryResult
from renraku.domain.flows import (
    Answered,
    CallState,
    Digits,
    Disconnect,
    Event,
    Gather,
    HungUp,
    InputTimeout,
    Say,
    new_call,
)
from renraku.domain.timefmt import iso
from renraku.errors import ConfigError, InvalidInput, Problem
from renraku.services import call_placement as placement
from renraku.services import calls as call_service
from renraku.services.call_functions import FunctionInvoker, RuntimeInvoker
from renraku.services.call_runner import CallContext, apply_reached, drive
from renraku.settings import Settings

if TYPE_CHECKING:
    from renraku.app import App

SCRIPT_OUTCOMES = {
    "answered": "ANSWERED",
    "no-answer": "NO_ANSWER",
    "busy": "BUSY",
    "voicemail": "VOICEMAIL",
    "failed": "FAILED",
}
DIGIT_SECONDS = 1.0  # from the end of a prompt to the key press


@dataclass(frozen=True, slots=True)
class Callee:
    """What one callee does."""

    outcome: str  # a key of SCRIPT_OUTCOMES
    ring_seconds: float | None = None
    hangup_after: float | None = None
    digits: tuple[str | None, ...] = ()


@dataclass(frozen=True, slots=True)
class Script:
    numbers: Mapping[str, Callee] = field(default_factory=dict)
    default: Callee | None = None


def _callee(raw: Any, path: str, problems: list[Problem]) -> Callee | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "must be an object like {outcome: answered, digits: ['1']}"))
        return None
    outcome = raw.get("outcome")
    if outcome not in SCRIPT_OUTCOMES:
        problems.append(
            Problem(f"{path}.outcome", f"{outcome!r} is not one of {list(SCRIPT_OUTCOMES)}")
        )
        return None
    digits_raw = raw.get("digits") or []
    if not isinstance(digits_raw, list):
        problems.append(Problem(f"{path}.digits", "must be a list, one entry per input prompt"))
        digits_raw = []
    digits: list[str | None] = []
    for i, d in enumerate(digits_raw):
        if d is None or d == "":
            digits.append(None)
        elif isinstance(d, str | int) and all(c in "0123456789*#" for c in str(d)):
            digits.append(str(d))
        else:
            problems.append(Problem(f"{path}.digits[{i}]", f"{d!r} is not DTMF digits (0-9 * #)"))
    numbers: dict[str, float | None] = {}
    for key in ("ring_seconds", "hangup_after"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, int | float) or value < 0):
            problems.append(Problem(f"{path}.{key}", f"{value!r} must be a number of seconds"))
            value = None
        numbers[key] = float(value) if value is not None else None
    unknown = set(raw) - {"outcome", "digits", "ring_seconds", "hangup_after"}
    if unknown:
        problems.append(Problem(path, f"unknown keys {sorted(unknown)}"))
    return Callee(str(outcome), numbers["ring_seconds"], numbers["hangup_after"], tuple(digits))


def parse_script(data: Any, *, source: str = "script") -> Script:
    """A callee script from parsed JSON/YAML, or InvalidInput naming every problem."""
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        raise InvalidInput([Problem(source, "a script must be an object with 'numbers'")])
    numbers: dict[str, Callee] = {}
    raw_numbers = data.get("numbers") or {}
    if not isinstance(raw_numbers, Mapping):
        problems.append(Problem(f"{source}.numbers", "must map E.164 numbers to callees"))
        raw_numbers = {}
    for number, raw in raw_numbers.items():
        if not str(number).startswith("+"):
            problems.append(Problem(f"{source}.numbers.{number}", "must be an E.164 number"))
            continue
        callee = _callee(raw, f"{source}.numbers.{number}", problems)
        if callee is not None:
            numbers[str(number)] = callee
    default = None
    if data.get("default") is not None:
        default = _callee(data["default"], f"{source}.default", problems)
    unknown = set(data) - {"numbers", "default"}
    if unknown:
        problems.append(Problem(source, f"unknown keys {sorted(unknown)}"))
    if problems:
        raise InvalidInput(problems, subject="callee script")
    return Script(numbers, default)


def load_script(path: Path) -> Script:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the callee script {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput([Problem(str(path), f"not valid JSON/YAML: {exc}")]) from exc
    return parse_script(data, source=str(path))


@dataclass
class _Clock:
    """Simulated time within one call."""

    at: datetime

    def add(self, seconds: float) -> datetime:
        self.at = self.at + timedelta(seconds=seconds)
        return self.at


class SimulatedVoice:
    """The VOICE channel on the virtual phone network."""

    name = "VOICE"
    provider = "simulator"
    local_flows = True
    queues = True

    def __init__(self, settings: Settings, script: Script | None = None) -> None:
        self.settings = settings
        self.sim = settings.voice.simulator
        self._script = script
        self.invoker: FunctionInvoker = RuntimeInvoker(settings)
        self._app: App | None = None

    def bind(self, app: App) -> None:
        self._app = app
        if isinstance(self.invoker, RuntimeInvoker):
            self.invoker.app = app

    @property
    def app(self) -> App:
        if self._app is None:
            raise ConfigError("the voice simulator is not bound to an App (use build_app)")
        return self._app

    @property
    def script(self) -> Script:
        if self._script is None:
            path = self.sim.script
            self._script = load_script(path) if path is not None else Script()
        return self._script

    # Channel protocol ------------------------------------------------------------------------

    def deliver(self, batch: Sequence[Delivery]) -> list[DeliveryResult]:
        return placement.deliver_calls(self.app, batch, self)

    def lookup(self, key: str) -> DeliveryResult | None:
        return placement.lookup_call(self.app, key, self.provider)

    # The callee ------------------------------------------------------------------------------

    def callee_for(self, address: str, key: str) -> Callee:
        script = self.script
        if address in script.numbers:
            return script.numbers[address]
        if script.default is not None:
            return script.default
        return self._random_callee(address, key)

    def _local_hour(self, address: str, now: datetime) -> int:
        try:
            zones = phone_timezone.time_zones_for_number(phonenumbers.parse(address, None))
            return now.astimezone(ZoneInfo(zones[0])).hour
        except Exception:  # unknown zone: fall back to UTC
            return now.hour

    def _random_callee(self, address: str, key: str) -> Callee:
        sim = self.sim
        rng = random.Random(f"{sim.seed}:{address}:{key}")  # noqa: S311 - a model, not security
        hour = self._local_hour(address, self.app.clock.now())
        answer = min(1.0, sim.answer_rate * sim.answer_rate_by_hour.get(str(hour), 1.0))
        r = rng.random()
        if r < sim.failed_rate:
            return Callee("failed")
        if r < sim.failed_rate + sim.busy_rate:
            return Callee("busy")
        if rng.random() < answer:
            press = rng.random() < sim.press_rate
            return Callee("answered", digits=("1",) if press else ())
        if rng.random() < sim.voicemail_rate:
            return Callee("voicemail")
        return Callee("no-answer")

    def dial(self, request: placement.CallRequest) -> str | None:
        """Run the whole call now, on simulated time, and record how it ends."""
        app = self.app
        callee = self.callee_for(request.address, request.send_key or request.call_id)
        outcome = SCRIPT_OUTCOMES[callee.outcome]
        clock = _Clock(request.start_at or app.clock.now())
        if outcome in ("NO_ANSWER", "BUSY", "FAILED"):
            ring = {"NO_ANSWER": self.sim.no_answer_ring_seconds, "BUSY": 2.0, "FAILED": 0.0}
            end = clock.add(
                callee.ring_seconds if callee.ring_seconds is not None else ring[outcome]
            )
            reason = {"NO_ANSWER": "no answer", "BUSY": "busy", "FAILED": "network failure"}
            call_service.finish(
                app,
                request.app_id,
                request.call_id,
                outcome=outcome,
                reason=reason[outcome],
                ended_at=iso(end),
                updates={"ProviderCallId": f"sim-{request.call_id}"},
            )
            return None  # the record already names the simulated call
        answered = clock.add(
            callee.ring_seconds if callee.ring_seconds is not None else self.sim.ring_seconds
        )
        ctx = CallContext(
            app=app,
            app_id=request.app_id,
            call_id=request.call_id,
            user_id=request.user_id,
            endpoint_id=request.endpoint_id,
            address=request.address,
            invoker=self.invoker,
            on_reached=apply_reached,
        )
        state = new_call(
            request.flow_id,
            contact_id=request.call_id,
            customer_address=request.address,
            attributes=request.attributes,
            instance_id=request.app_id,
            system_address=request.origination,
        )
        amd = "VoicemailBeep" if outcome == "VOICEMAIL" else "CallAnswered"
        state = self._converse(ctx, state, callee, amd, answered, clock)
        call_service.finish(
            app,
            request.app_id,
            request.call_id,
            outcome=outcome,
            digits=state.digits if outcome == "ANSWERED" else "",
            reason=state.end_reason,
            answered_at=iso(answered),
            ended_at=iso(clock.at),
            updates={
                "ProviderCallId": f"sim-{request.call_id}",
                "Transcript": ctx.log,
                "Path": list(state.path),
                "Attributes": dict(state.attributes),
                "State": state.to_json(),
            },
        )
        return None  # the record already names the simulated call

    def _converse(
        self,
        ctx: CallContext,
        state: CallState,
        callee: Callee,
        amd: str,
        answered: datetime,
        clock: _Clock,
    ) -> CallState:
        hangup_at = (
            answered + timedelta(seconds=callee.hangup_after)
            if callee.hangup_after is not None
            else None
        )
        limit = answered + timedelta(seconds=self.settings.voice.max_call_seconds)
        hangup_at = min(hangup_at, limit) if hangup_at is not None else limit
        human = amd == "CallAnswered"
        presses = list(callee.digits) if human else []
        event: Event = Answered(amd)
        while True:
            state, commands = drive(ctx, state, event, clock.at)
            if state.done:
                if not self._speak_all(ctx, commands, clock, hangup_at):
                    state = replace(state, end_reason="customer hung up")
                return state
            gather = commands[-1] if commands and isinstance(commands[-1], Gather) else None
            said = [c for c in commands if isinstance(c, Say)]
            if gather is not None and gather.prompt is not None:
                said.append(gather.prompt)
            if not self._speak_all(ctx, said, clock, hangup_at):
                reason = "customer hung up" if clock.at < limit else "maximum call length reached"
                state, _ = drive(ctx, state, HungUp(reason), clock.at)
                return state
            if gather is None:  # waiting for nothing the phone can give: stop here
                state, _ = drive(ctx, state, HungUp("flow stalled"), clock.at)
                return state
            pressed = presses.pop(0) if presses else None
            entry: dict[str, Any] = {"Action": gather.action, "Kind": "Input"}
            if pressed is None:
                if clock.at + timedelta(seconds=gather.timeout_seconds) > hangup_at:
                    clock.at = hangup_at
                    state, _ = drive(ctx, state, HungUp(), clock.at)
                    return state
                clock.add(gather.timeout_seconds)
                ctx.log.append({**entry, "At": iso(clock.at), "Digits": "", "TimedOut": True})
                event = InputTimeout()
            else:
                clock.add(DIGIT_SECONDS + 0.2 * len(pressed))
                ctx.log.append({**entry, "At": iso(clock.at), "Digits": pressed, "TimedOut": False})
                event = Digits(pressed[: gather.max_digits])

    def _speak_all(
        self, ctx: CallContext, commands: Sequence[Any], clock: _Clock, hangup_at: datetime
    ) -> bool:
        """Speak each prompt in turn; False when the callee hangs up before one ends."""
        for cmd in commands:
            if isinstance(cmd, Disconnect) or not isinstance(cmd, Say):
                continue
            seconds = max(1.0, len(cmd.words) / self.sim.characters_per_second)
            entry = {
                "At": iso(clock.at),
                "Action": cmd.action,
                "Kind": "Say",
                "Text": cmd.words,
                "Voice": cmd.voice,
                "Engine": cmd.engine,
                "Language": cmd.language,
            }
            if clock.at + timedelta(seconds=seconds) > hangup_at:
                ctx.log.append({**entry, "Heard": "partial"})
                clock.at = max(clock.at, hangup_at)
                return False
            ctx.log.append({**entry, "Heard": "full"})
            clock.add(seconds)
        return True
