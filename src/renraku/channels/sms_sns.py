"""SMS through Amazon SNS (``Publish`` to a phone number)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from renraku.channels.config import SmsSettings
from renraku.channels.email_ses import aws_client, client_error
from renraku.channels.pipeline import Outgoing, Sent, message_setting
from renraku.channels.sms_common import body_of, check_number, sms_data


class SnsTransport:
    """The SNS provider of the SMS channel."""

    provider = "sns"
    channel = "SMS"

    def __init__(self, settings: SmsSettings, client: Any | None = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("sns", self.settings.sns)
        return self._client

    def transmit(self, item: Outgoing) -> Sent:
        cfg = self.settings.sns
        body = body_of(item)
        attributes: dict[str, Any] = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": cfg.sms_type}
        }
        if cfg.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {
                "DataType": "String",
                "StringValue": cfg.sender_id,
            }
        origination = message_setting(item.delivery.config, "OriginationNumber")
        if origination:
            attributes["AWS.MM.SMS.OriginationNumber"] = {
                "DataType": "String",
                "StringValue": str(origination),
            }
        try:
            response = self.client.publish(
                PhoneNumber=check_number(item.endpoint.address),
                Message=body,
                MessageAttributes=attributes,
            )
        except (ClientError, BotoCoreError) as exc:
            raise client_error("SNS", exc) from exc
        return Sent(
            message_id=str(response["MessageId"]),
            data=sms_data(body, self.settings.price_for(item.endpoint.address)),
        )

    def close(self) -> None:
        return None
