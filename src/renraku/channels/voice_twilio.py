"""VOICE over Twilio Programmable Voice: ``calls.create`` pointing at renraku's TwiML routes.

Twilio fetches ``{public_url}/twilio/voice/{call id}`` when the callee answers; renraku's TwiML
routes (``renraku.api.twiml``) run the flow step by step and render each step as TwiML. Status
callbacks (``/twilio/voice/{call id}/status``) settle the outcome. ``[voice.twilio] base_url``
sends the library's requests to another host (the local simulator in tests and demos).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from renraku.channels.base import Delivery, DeliveryResult
from renraku.errors import ConfigError
from renraku.services import call_placement as placement
from renraku.services.call_functions import FunctionInvoker, RuntimeInvoker
from renraku.settings import Settings

if TYPE_CHECKING:
    from renraku.app import App

_TWILIO_HOST = re.compile(r"^https://[a-z0-9.-]+\.twilio\.com")
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


class _Redirecting(TwilioHttpClient):  # type: ignore[misc]
    """Sends requests meant for ``*.twilio.com`` to ``base_url``."""

    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=15)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(method, _TWILIO_HOST.sub(self.base_url, url), *args, **kwargs)


class TwilioVoice:
    """The VOICE channel on Twilio."""

    name = "VOICE"
    provider = "twilio"
    local_flows = True
    queues = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cfg = settings.voice.twilio
        self.invoker: FunctionInvoker = RuntimeInvoker(settings)
        self._app: App | None = None
        self._client: Client | None = None

    def bind(self, app: App) -> None:
        self._app = app
        if isinstance(self.invoker, RuntimeInvoker):
            self.invoker.app = app

    @property
    def app(self) -> App:
        if self._app is None:
            raise ConfigError("the Twilio voice channel is not bound to an App (use build_app)")
        return self._app

    @property
    def client(self) -> Client:
        if self._client is None:
            if not self.cfg.account_sid or self.cfg.auth_token is None:
                raise ConfigError("Twilio voice needs voice.twilio.account_sid and auth_token")
            http = _Redirecting(self.cfg.base_url) if self.cfg.base_url else None
            self._client = Client(
                self.cfg.account_sid, self.cfg.auth_token.get_secret_value(), http_client=http
            )
        return self._client

    def deliver(self, batch: Sequence[Delivery]) -> list[DeliveryResult]:
        return placement.deliver_calls(self.app, batch, self)

    def lookup(self, key: str) -> DeliveryResult | None:
        return placement.lookup_call(self.app, key, self.provider)

    def dial(self, request: placement.CallRequest) -> str | None:
        public = self.cfg.public_url or self.settings.webhooks.public_url
        base = public.rstrip("/") + f"/twilio/voice/{request.call_id}"
        origination = request.origination or self.cfg.from_number
        if not origination:
            raise placement.CallRefused(
                "no caller number: set OriginationNumber or voice.twilio.from_number"
            )
        options: dict[str, Any] = {}
        if self.cfg.machine_detection:
            options["machine_detection"] = "DetectMessageEnd"
        try:
            call = self.client.calls.create(
                to=request.address,
                from_=origination,
                url=base,
                method="POST",
                status_callback=base + "/status",
                status_callback_event=STATUS_EVENTS,
                status_callback_method="POST",
                timeout=self.cfg.timeout_seconds,
                **options,
            )
        except TwilioRestException as exc:
            if exc.status == 429:  # throttled: certainly not placed
                raise placement.CallDeferred(f"Twilio 429: {exc.msg}") from exc
            raise placement.CallRefused(f"Twilio {exc.status} error {exc.code}: {exc.msg}") from exc
        except TwilioException as exc:
            raise placement.CallRefused(f"Twilio unreachable: {exc}") from exc
        return str(call.sid)

    def stop(self, call: dict[str, Any]) -> None:
        """Hang up a call in progress (StopContact)."""
        if call.get("ProviderCallId"):
            # A call already over raises; its status callback settles it.
            with contextlib.suppress(TwilioException):
                self.client.calls(call["ProviderCallId"]).update(status="completed")
