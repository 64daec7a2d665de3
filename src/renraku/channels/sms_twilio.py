"""SMS through Twilio Programmable Messaging (the ``twilio`` library).

``sms.twilio.base_url`` sends the library's requests to another host (the local simulator, or a
regional edge); status callbacks come back to ``{webhooks.public_url}/hooks/twilio/status``.
"""

from __future__ import annotations

import re
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from renraku.channels.config import SmsSettings, TwilioSettings, WebhookSettings
from renraku.channels.pipeline import Outgoing, Sent, message_setting
from renraku.channels.policies import ProviderError
from renraku.channels.sms_common import body_of, check_number, origination, sms_data

_TWILIO_HOST = re.compile(r"^https://[a-z0-9.-]+\.twilio\.com")
# Twilio error codes that mean "this number cannot receive this message".
PERMANENT_CODES = {21211, 21612, 21614, 21408, 21606, 21608, 21617, 21635, 30003, 30005, 30006}
OPTED_OUT_CODES = {21610}


class _RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Sends every request that would go to ``*.twilio.com`` to ``base_url`` instead."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return super().request(
            method,
            _TWILIO_HOST.sub(self.base_url, url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def twilio_client(cfg: TwilioSettings, timeout: float = 15.0) -> Client:
    if not cfg.account_sid or cfg.auth_token is None:
        raise ProviderError(
            "Twilio needs sms.twilio.account_sid and sms.twilio.auth_token", permanent=True
        )
    http = (
        _RedirectingHttpClient(cfg.base_url, timeout)
        if cfg.base_url
        else TwilioHttpClient(timeout=timeout)
    )
    return Client(cfg.account_sid, cfg.auth_token.get_secret_value(), http_client=http)


def rest_error(exc: TwilioRestException) -> ProviderError:
    code = exc.code if isinstance(exc.code, int) else None
    reason = f"Twilio {exc.status}" + (f" error {code}" if code else "") + f": {exc.msg}"
    if exc.status == 401 or code == 20003:
        return ProviderError(
            reason + " (check sms.twilio.account_sid and auth_token)", permanent=True, code="20003"
        )
    if exc.status == 429 or code == 20429 or exc.status >= 500:
        return ProviderError(reason, permanent=False, code=str(code or exc.status))
    return ProviderError(
        reason,
        permanent=True,
        code=str(code or exc.status),
        opt_out=code in OPTED_OUT_CODES,
    )


class TwilioTransport:
    """The Twilio provider of the SMS channel."""

    provider = "twilio"
    channel = "SMS"

    def __init__(
        self, settings: SmsSettings, hooks: WebhookSettings, client: Client | None = None
    ) -> None:
        self.settings = settings
        self.hooks = hooks
        self._client = client

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = twilio_client(self.settings.twilio)
        return self._client

    def transmit(self, item: Outgoing) -> Sent:
        cfg = self.settings.twilio
        body = body_of(item)
        to = check_number(item.endpoint.address)
        request: dict[str, Any] = {"to": to, "body": body}
        sender = origination(item, cfg.from_number)
        if cfg.messaging_service_sid and not message_setting(
            item.delivery.config, "OriginationNumber"
        ):
            request["messaging_service_sid"] = cfg.messaging_service_sid
        elif sender:
            request["from_"] = sender
        else:
            raise ProviderError(
                "no sender: set sms.twilio.from_number, messaging_service_sid or the activity's "
                "OriginationNumber",
                permanent=True,
            )
        if cfg.status_callback:
            request["status_callback"] = self.hooks.public_url.rstrip("/") + "/hooks/twilio/status"
        try:
            message = self.client.messages.create(**request)
        except TwilioRestException as exc:
            raise rest_error(exc) from exc
        except (requests.RequestException, TwilioException) as exc:
            raise ProviderError(f"cannot reach Twilio: {exc}", permanent=False) from exc
        data = sms_data(body, self.settings.price_for(to))
        data["Status"] = message.status
        return Sent(message_id=str(message.sid), data=data)

    def close(self) -> None:
        return None
