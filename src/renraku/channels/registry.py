"""Which transport serves each channel type, chosen from settings (see ``build_channels``)."""

from __future__ import annotations

from renraku.channels.base import Channel
from renraku.settings import Settings


def build_channels(settings: Settings) -> dict[str, Channel]:
    """The channel transports named in ``settings``, keyed by channel type (EMAIL, SMS, ...)."""
    channels: dict[str, Channel] = {}
    return channels
