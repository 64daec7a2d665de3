"""Real providers selected in settings, each wrapped in the shared send policies."""

from __future__ import annotations

from renraku.channels.base import Channel
from renraku.channels.pipeline import PolicedChannel, Transport
from renraku.settings import Settings
from renraku.store import Store


def email_transport(settings: Settings) -> Transport | None:
    provider = settings.email.provider
    if provider == "smtp":
        from renraku.channels.email_smtp import SmtpTransport

        return SmtpTransport(settings.email)
    if provider == "ses":
        from renraku.channels.email_ses import SesTransport

        return SesTransport(settings.email)
    return None


def sms_transport(settings: Settings) -> Transport | None:
    provider = settings.sms.provider
    if provider == "twilio":
        from renraku.channels.sms_twilio import TwilioTransport

        return TwilioTransport(settings.sms, settings.webhooks)
    if provider == "aws":
        from renraku.channels.sms_aws import AwsSmsTransport

        return AwsSmsTransport(settings.sms)
    if provider == "sns":
        from renraku.channels.sms_sns import SnsTransport

        return SnsTransport(settings.sms)
    return None


def provider_channels(settings: Settings, store: Store) -> dict[str, Channel]:
    """EMAIL, SMS and CUSTOM channels for the providers configured in ``settings``."""
    channels: dict[str, Channel] = {}
    for transport in (email_transport(settings), sms_transport(settings)):
        if transport is not None:
            channels[transport.channel] = PolicedChannel(
                transport, store, settings.policies, settings.webhooks
            )
    from renraku.channels.custom import CustomChannel

    channels["CUSTOM"] = CustomChannel(settings, store)
    return channels
