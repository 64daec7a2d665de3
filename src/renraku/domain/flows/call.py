"""What a call's flow works with: the call's state, the events fed to it, the commands it returns.

All are frozen values; :class:`CallState` round-trips through JSON (:meth:`CallState.to_json`) so a
runner can keep a call between events (the TwiML routes keep it in the call record).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from renraku.domain.flows.voices import DEFAULT_VOICE

Waiting = Literal["answer", "input", "function", "flow", "done"]


@dataclass(frozen=True, slots=True)
class CallState:
    """Everything a call's flow knows; JSON-serialisable through :meth:`to_json`."""

    contact_id: str
    flow_id: str
    customer_address: str
    instance_id: str = ""
    system_address: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    external: Mapping[str, Any] = field(default_factory=dict)
    voice: str = DEFAULT_VOICE
    engine: str = "Standard"
    language: str = "en-US"
    logging: bool = False
    action: str | None = None  # the action waiting for an event
    waiting: Waiting = "answer"
    stored_input: str = ""
    inputs: tuple[str, ...] = ()  # digits entered at each input, "" for a time-out
    path: tuple[str, ...] = ()  # every action run, in order
    outbound_status: str = "NotDetected"
    end_reason: str | None = None
    reached: bool = False

    @property
    def done(self) -> bool:
        return self.waiting == "done"

    @property
    def digits(self) -> str:
        """All digits the callee entered, in order."""
        return "".join(self.inputs)

    def to_json(self) -> dict[str, Any]:
        return {
            "ContactId": self.contact_id,
            "FlowId": self.flow_id,
            "CustomerAddress": self.customer_address,
            "InstanceId": self.instance_id,
            "SystemAddress": self.system_address,
            "Attributes": dict(self.attributes),
            "External": dict(self.external),
            "Voice": self.voice,
            "Engine": self.engine,
            "Language": self.language,
            "Logging": self.logging,
            "Action": self.action,
            "Waiting": self.waiting,
            "StoredInput": self.stored_input,
            "Inputs": list(self.inputs),
            "Path": list(self.path),
            "OutboundStatus": self.outbound_status,
            "EndReason": self.end_reason,
            "Reached": self.reached,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CallState:
        return cls(
            contact_id=d["ContactId"],
            flow_id=d["FlowId"],
            customer_address=d["CustomerAddress"],
            instance_id=d.get("InstanceId", ""),
            system_address=d.get("SystemAddress", ""),
            attributes=dict(d.get("Attributes") or {}),
            external=dict(d.get("External") or {}),
            voice=d.get("Voice", DEFAULT_VOICE),
            engine=d.get("Engine", "Standard"),
            language=d.get("Language", "en-US"),
            logging=bool(d.get("Logging")),
            action=d.get("Action"),
            waiting=d.get("Waiting", "answer"),
            stored_input=d.get("StoredInput", ""),
            inputs=tuple(d.get("Inputs") or ()),
            path=tuple(d.get("Path") or ()),
            outbound_status=d.get("OutboundStatus", "NotDetected"),
            end_reason=d.get("EndReason"),
            reached=bool(d.get("Reached")),
        )


# Events -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answered:
    """The call connected; ``status`` is the answering-machine verdict, as Connect names it."""

    status: str = "CallAnswered"  # CallAnswered | VoicemailBeep | VoicemailNoBeep | NotDetected


@dataclass(frozen=True, slots=True)
class Digits:
    digits: str


@dataclass(frozen=True, slots=True)
class InputTimeout:
    pass


@dataclass(frozen=True, slots=True)
class HungUp:
    reason: str = "customer hung up"


@dataclass(frozen=True, slots=True)
class FunctionReturned:
    result: Any


@dataclass(frozen=True, slots=True)
class FunctionFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class FlowLoaded:
    """The flow a TransferToFlow named, now passed as ``flow`` to :func:`advance`."""

    flow_id: str


@dataclass(frozen=True, slots=True)
class FlowMissing:
    reason: str


Event = (
    Answered
    | Digits
    | InputTimeout
    | HungUp
    | FunctionReturned
    | FunctionFailed
    | FlowLoaded
    | FlowMissing
)

# Commands -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    """Play a prompt: text or SSML spoken in ``voice``, or a stored prompt."""

    action: str
    text: str = ""
    ssml: str = ""
    prompt_id: str = ""
    voice: str = DEFAULT_VOICE
    engine: str = "Standard"
    language: str = "en-US"

    @property
    def words(self) -> str:
        return self.text or self.ssml or self.prompt_id


@dataclass(frozen=True, slots=True)
class Gather:
    """Play ``prompt`` (if any) and collect up to ``max_digits`` DTMF digits."""

    action: str
    prompt: Say | None
    timeout_seconds: float
    max_digits: int = 1
    terminator: str = ""


@dataclass(frozen=True, slots=True)
class InvokeFunction:
    action: str
    function: str  # name (the last part of a Lambda ARN)
    event: Mapping[str, Any]
    timeout_seconds: float
    response_type: str = "STRING_MAP"


@dataclass(frozen=True, slots=True)
class LoadFlow:
    action: str
    flow_ref: str


@dataclass(frozen=True, slots=True)
class MarkReached:
    """The participant was reached: ``attribute`` of the call endpoint becomes ``status``, and of
    the user's other endpoints still PENDING becomes ``others``."""

    action: str
    status: str = "COMPLETED"
    attribute: str = "CallStatus"
    others: str = "CANCELED"


@dataclass(frozen=True, slots=True)
class Disconnect:
    reason: str


Command = Say | Gather | InvokeFunction | LoadFlow | MarkReached | Disconnect


@dataclass(frozen=True, slots=True)
class Step:
    state: CallState
    commands: tuple[Command, ...]
