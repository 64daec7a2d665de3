"""Email through Amazon SES v2 (``SendEmail`` with the raw MIME message, so headers survive).

Delivery, bounce and complaint notifications come back through SNS (see ``renraku.api.hooks``).
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from renraku.channels import email_message
from renraku.channels.config import AwsClientSettings, EmailSettings
from renraku.channels.pipeline import Outgoing, Sent
from renraku.channels.policies import ProviderError

TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "LimitExceededException",
        "Throttling",
        "ThrottlingException",
        "InternalFailure",
        "ServiceUnavailable",
    }
)


def aws_client(service: str, cfg: AwsClientSettings) -> Any:
    """A boto3 client from renraku's settings (unset credentials use boto3's own chain)."""
    kwargs: dict[str, Any] = {
        "region_name": cfg.region,
        "config": Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10),
    }
    if cfg.endpoint_url:
        kwargs["endpoint_url"] = cfg.endpoint_url
    if cfg.access_key_id:
        kwargs["aws_access_key_id"] = cfg.access_key_id
        if cfg.secret_access_key is not None:
            kwargs["aws_secret_access_key"] = cfg.secret_access_key.get_secret_value()
        if cfg.session_token is not None:
            kwargs["aws_session_token"] = cfg.session_token.get_secret_value()
    return boto3.client(service, **kwargs)  # type: ignore[call-overload]


def client_error(
    service: str, exc: Exception, *, bounce_codes: frozenset[str] = frozenset()
) -> ProviderError:
    """Translate a botocore error into a ProviderError with a readable reason."""
    if isinstance(exc, NoCredentialsError):
        return ProviderError(
            f"{service}: no AWS credentials configured", permanent=True, code="NoCredentials"
        )
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "Unknown"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        transient = code in TRANSIENT_CODES or status >= 500 or status == 429
        return ProviderError(
            f"{service} {code}: {err.get('Message', '')}".strip(),
            permanent=not transient,
            code=code,
            bounce=code in bounce_codes,
        )
    if isinstance(exc, BotoCoreError):
        return ProviderError(f"{service}: {exc}", permanent=False, code=type(exc).__name__)
    return ProviderError(f"{service}: {type(exc).__name__}: {exc}", permanent=False)


class SesTransport:
    """The SES v2 provider of the EMAIL channel."""

    provider = "ses"
    channel = "EMAIL"

    def __init__(self, settings: EmailSettings, client: Any | None = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("sesv2", self.settings.ses)
        return self._client

    def transmit(self, item: Outgoing) -> Sent:
        msg = email_message.build(
            item, self.settings.from_address, unsubscribe_mailto=self.settings.unsubscribe_mailto
        )
        request: dict[str, Any] = {
            "FromEmailAddress": email_message.sender_address(msg),
            "Destination": {"ToAddresses": [item.endpoint.address]},
            "Content": {"Raw": {"Data": msg.as_bytes()}},
            "EmailTags": [{"Name": "renraku-app", "Value": item.delivery.app_id}],
        }
        if self.settings.ses.configuration_set:
            request["ConfigurationSetName"] = self.settings.ses.configuration_set
        try:
            response = self.client.send_email(**request)
        except (ClientError, BotoCoreError) as exc:
            raise client_error("SES", exc) from exc
        return Sent(
            message_id=str(response["MessageId"]), data={"MessageIdHeader": str(msg["Message-ID"])}
        )

    def close(self) -> None:
        return None
