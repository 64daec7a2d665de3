"""SMS through AWS End User Messaging SMS (``pinpoint-sms-voice-v2`` ``SendTextMessage``)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from renraku.channels.config import SmsSettings
from renraku.channels.email_ses import aws_client, client_error
from renraku.channels.pipeline import Outgoing, Sent, message_setting
from renraku.channels.policies import ProviderError
from renraku.channels.sms_common import body_of, check_number, origination, sms_data


class AwsSmsTransport:
    """The AWS End User Messaging provider of the SMS channel."""

    provider = "aws-sms"
    channel = "SMS"

    def __init__(self, settings: SmsSettings, client: Any | None = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("pinpoint-sms-voice-v2", self.settings.aws)
        return self._client

    def transmit(self, item: Outgoing) -> Sent:
        cfg = self.settings.aws
        body = body_of(item)
        request: dict[str, Any] = {
            "DestinationPhoneNumber": check_number(item.endpoint.address),
            "MessageBody": body,
            "MessageType": str(
                message_setting(item.delivery.config, "MessageType") or cfg.message_type
            ).upper(),
            "Context": {"renraku-send-key": item.delivery.key[:800]},
        }
        if request["MessageType"] not in ("TRANSACTIONAL", "PROMOTIONAL"):
            request["MessageType"] = cfg.message_type
        sender = origination(item, cfg.origination_identity)
        if sender:
            request["OriginationIdentity"] = sender
        if cfg.configuration_set:
            request["ConfigurationSetName"] = cfg.configuration_set
        try:
            response = self.client.send_text_message(**request)
        except ClientError as exc:
            error = client_error("AWS SMS", exc)
            reason = str(exc.response.get("Reason", ""))
            if error.code == "ConflictException" and "OPTED_OUT" in reason:
                error.opt_out = True
            raise error from exc
        except BotoCoreError as exc:
            raise client_error("AWS SMS", exc) from exc
        if not response.get("MessageId"):
            raise ProviderError("AWS SMS answered without a MessageId", permanent=False)
        return Sent(
            message_id=str(response["MessageId"]),
            data=sms_data(body, self.settings.price_for(request["DestinationPhoneNumber"])),
        )

    def close(self) -> None:
        return None
