"""Settings of the channels: email, SMS, the custom channel (webhooks), functions and send policies.

Each model is one section of ``renraku.toml`` (``[email]``, ``[email.smtp]``, ``[sms.twilio]``,
``[functions.NAME]`` ...) and every key is also an environment variable, e.g.
``RENRAKU_EMAIL__SMTP__PORT=2525``. Secrets are ``SecretStr``: printed masked, never logged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class AwsClientSettings(BaseModel):
    """Where and as whom a boto3 client connects; unset keys fall back to boto3's own chain."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None


class SmtpSettings(BaseModel):
    """An SMTP relay: plain, STARTTLS (usually port 587) or implicit TLS (usually 465)."""

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = Field(default=15.0, gt=0)
    verify_certificates: bool = True


class SesSettings(AwsClientSettings):
    """Amazon SES v2 (``SendEmail``); notifications arrive through SNS at /hooks/ses."""

    configuration_set: str | None = None


class EmailSettings(BaseModel):
    """Email: provider, sender, and the unsubscribe behaviour of marketing mail."""

    provider: Literal["none", "smtp", "ses"] = "none"
    from_address: str = "renraku@localhost"
    smtp: SmtpSettings = SmtpSettings()
    ses: SesSettings = SesSettings()
    # Marketing mail (the default) carries List-Unsubscribe headers and a link;
    # an activity may mark itself transactional with MessageType = "TRANSACTIONAL".
    unsubscribe_mailto: str | None = None


class TwilioSettings(BaseModel):
    """Twilio Programmable Messaging. ``base_url`` points the client at another host (simulator)."""

    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    base_url: str | None = None
    status_callback: bool = True


class AwsSmsSettings(AwsClientSettings):
    """AWS End User Messaging SMS (``pinpoint-sms-voice-v2`` SendTextMessage)."""

    origination_identity: str | None = None
    configuration_set: str | None = None
    message_type: Literal["TRANSACTIONAL", "PROMOTIONAL"] = "TRANSACTIONAL"


class SnsSettings(AwsClientSettings):
    """Amazon SNS direct-to-phone SMS (``Publish`` with ``PhoneNumber``)."""

    sender_id: str | None = None
    sms_type: Literal["Transactional", "Promotional"] = "Transactional"


class SmsSettings(BaseModel):
    """SMS: provider, keywords, and the price used for estimates."""

    provider: Literal["none", "twilio", "aws", "sns"] = "none"
    twilio: TwilioSettings = TwilioSettings()
    aws: AwsSmsSettings = AwsSmsSettings()
    sns: SnsSettings = SnsSettings()
    help_text: str = "Reply STOP to unsubscribe."
    stop_reply: str | None = "You have been unsubscribed and will receive no further messages."
    extra_stop_keywords: list[str] = []
    price_per_segment: float = Field(default=0.0, ge=0)
    # Per destination country (ISO 3166 alpha-2, e.g. JP), overriding price_per_segment.
    prices: dict[str, float] = {}

    def price_for(self, number: str) -> float:
        """The price of one segment to ``number`` (E.164), from ``prices`` or the default."""
        if self.prices:
            import phonenumbers

            try:
                region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
            except phonenumbers.NumberParseException:
                region = None
            if region and region.upper() in {k.upper() for k in self.prices}:
                return next(v for k, v in self.prices.items() if k.upper() == region.upper())
        return self.price_per_segment


class WebhookSettings(BaseModel):
    """The custom channel's webhooks, and where providers reach renraku (``public_url``)."""

    public_url: str = "http://127.0.0.1:8080"  # where `renraku serve` listens by default
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=10)
    max_response_bytes: int = Field(default=1_048_576, ge=1024)
    allow_private_targets: bool = False
    allow_http: bool = False
    # SNS messages are verified against certificates from these hosts only.
    sns_certificate_hosts: list[str] = ["sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"]
    verify_sns_signatures: bool = True
    # SNS messages whose signed Timestamp is older are refused as replays: SNS stops retrying an
    # HTTP/S delivery within 3,600 s (a hard limit), plus 5 minutes for clock skew.
    sns_max_age_seconds: int = Field(default=3900, ge=60)
    # Twilio callbacks applied are remembered this long (replays within it are refused), then
    # forgotten in bounded batches; Twilio's own callback retries end well within a day.
    twilio_receipt_retention_seconds: int = Field(default=604_800, ge=3600)


class FunctionSettings(BaseModel):
    """One Lambda-style function: ``handler = "file.function"`` inside ``code``."""

    handler: str = "lambda_function.lambda_handler"
    code: str = "."
    environment: dict[str, str] = {}
    timeout_seconds: float = Field(default=15.0, gt=0, le=900)
    application: str | None = None


class RetrySettings(BaseModel):
    """Retries of transient provider errors: exponential backoff with full jitter."""

    max_attempts: int = Field(default=3, ge=1, le=20)
    base_delay_seconds: float = Field(default=0.5, ge=0)
    max_delay_seconds: float = Field(default=20.0, ge=0)


class PolicySettings(BaseModel):
    """Checks around every send: suppression, rate limits (messages per second) and retries."""

    rate_limits: dict[str, float] = {}  # provider name -> messages per second
    burst: dict[str, int] = {}  # provider name -> bucket size (default: one second's worth)
    retry: RetrySettings = RetrySettings()
    check_suppression: bool = True
