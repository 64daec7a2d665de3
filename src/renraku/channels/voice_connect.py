"""VOICE through Amazon Connect: ``StartOutboundVoiceContact``; the flow runs inside Connect.

The send's idempotency key becomes the ``ClientToken``, so Connect itself refuses to place a second
call for one send. The outcome comes back either from the flow (a function or webhook posting to
``POST /voice/connect/outcome``) or by polling ``DescribeContact`` (:meth:`ConnectVoice.poll`).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from renraku.channels.base import Delivery, DeliveryResult
from renraku.domain.timefmt import iso
from renraku.errors import ConfigError
from renraku.services import call_placement as placement
from renraku.services import calls as call_service
from renraku.settings import Settings
from renraku.store import calls as call_store

if TYPE_CHECKING:
    from renraku.app import App

MAX_CLIENT_TOKEN = 500
RETRYABLE = frozenset({"LimitExceededException", "ThrottlingException", "InternalServiceException"})
# Connect's answering-machine verdicts -> renraku's outcomes.
AMD_OUTCOMES = {
    "HUMAN_ANSWERED": "ANSWERED",
    "ANSWERED": "ANSWERED",
    "VOICEMAIL_BEEP": "VOICEMAIL",
    "VOICEMAIL_NO_BEEP": "VOICEMAIL",
    "SIT_TONE_BUSY": "BUSY",
    "SIT_TONE_INVALID_NUMBER": "FAILED",
    "SIT_TONE_DETECTED": "FAILED",
    "FAX_MACHINE_DETECTED": "FAILED",
    "AMD_UNANSWERED": "NO_ANSWER",
    "AMD_ERROR": "FAILED",
}


def client_token(key: str) -> str:
    """The send key as Connect's ClientToken (hashed when longer than Connect accepts)."""
    return key if len(key) <= MAX_CLIENT_TOKEN else hashlib.sha256(key.encode()).hexdigest()


class ConnectVoice:
    """The VOICE channel on Amazon Connect."""

    name = "VOICE"
    provider = "connect"
    local_flows = False
    queues = False

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.settings = settings
        self.cfg = settings.voice.connect
        self._client = client
        self._app: App | None = None

    def bind(self, app: App) -> None:
        self._app = app

    @property
    def app(self) -> App:
        if self._app is None:
            raise ConfigError("the Connect voice channel is not bound to an App (use build_app)")
        return self._app

    @property
    def client(self) -> Any:
        if self._client is None:
            secret = self.cfg.secret_access_key
            self._client = boto3.client(
                "connect",
                region_name=self.cfg.region,
                endpoint_url=self.cfg.endpoint_url,
                aws_access_key_id=self.cfg.access_key_id,
                aws_secret_access_key=secret.get_secret_value() if secret else None,
            )
        return self._client

    def deliver(self, batch: Sequence[Delivery]) -> list[DeliveryResult]:
        return placement.deliver_calls(self.app, batch, self, self._with_default_flow)

    def lookup(self, key: str) -> DeliveryResult | None:
        return placement.lookup_call(self.app, key, self.provider)

    def _with_default_flow(self, request: placement.CallRequest) -> placement.CallRequest:
        if not request.flow_id and self.cfg.contact_flow_id:
            return replace(request, flow_id=self.cfg.contact_flow_id)
        return request

    def dial(self, request: placement.CallRequest) -> str | None:
        if not self.cfg.instance_id:
            raise placement.CallRefused("Connect needs voice.connect.instance_id")
        if not request.flow_id:
            raise placement.CallRefused(
                "no contact flow: set ContactFlowId or voice.connect.contact_flow_id"
            )
        params: dict[str, Any] = {
            "InstanceId": self.cfg.instance_id,
            "ContactFlowId": request.flow_id,
            "DestinationPhoneNumber": request.address,
            "Attributes": dict(request.attributes),
            "ClientToken": client_token(request.send_key or request.call_id),
        }
        queue = request.config.get("QueueId") or self.cfg.queue_id
        source = request.origination or self.cfg.source_phone_number
        if queue:
            params["QueueId"] = queue
        if source:
            params["SourcePhoneNumber"] = source
        if self.cfg.answer_machine_detection:
            params["AnswerMachineDetectionConfig"] = {
                "EnableAnswerMachineDetection": True,
                "AwaitAnswerMachinePrompt": True,
            }
        try:
            response = self.client.start_outbound_voice_contact(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") in RETRYABLE:  # the same ClientToken makes a retry safe
                raise placement.CallDeferred(
                    f"Connect {error.get('Code')}: {error.get('Message', exc)}"
                ) from exc
            raise placement.CallRefused(
                f"Connect {error.get('Code', 'error')}: {error.get('Message', exc)}"
            ) from exc
        except BotoCoreError as exc:
            raise placement.CallRefused(f"Connect unreachable: {exc}") from exc
        return str(response["ContactId"])

    def stop(self, call: dict[str, Any]) -> None:
        if call.get("ProviderCallId") and self.cfg.instance_id:
            with contextlib.suppress(ClientError):  # already ended in Connect
                self.client.stop_contact(
                    ContactId=call["ProviderCallId"], InstanceId=self.cfg.instance_id
                )

    def poll(self, app_id: str, call_id: str) -> dict[str, Any]:
        """Ask Connect how a call went (DescribeContact) and record it once it has ended."""
        with self.app.store.connect() as conn:
            call = call_store.get(conn, app_id, call_id)
        if call["Outcome"] is not None or not call["ProviderCallId"]:
            return call
        contact = self.client.describe_contact(
            InstanceId=self.cfg.instance_id, ContactId=call["ProviderCallId"]
        )["Contact"]
        ended = contact.get("DisconnectTimestamp")
        if ended is None:
            return call
        answered = contact.get("ConnectedToSystemTimestamp")
        amd = contact.get("AnsweringMachineDetectionStatus", "")
        outcome = AMD_OUTCOMES.get(amd, "ANSWERED" if answered else "NO_ANSWER")
        attributes = self.client.get_contact_attributes(
            InstanceId=self.cfg.instance_id, InitialContactId=call["ProviderCallId"]
        ).get("Attributes", {})
        return call_service.finish(
            self.app,
            app_id,
            call_id,
            outcome=outcome,
            digits=str(attributes.get("Digits", "")) if outcome == "ANSWERED" else "",
            reason=str(contact.get("DisconnectReason") or "ended in Connect"),
            ended_at=iso(ended),
            answered_at=iso(answered) if answered else None,
            updates={"Attributes": {**(call["Attributes"] or {}), **attributes}},
        )
