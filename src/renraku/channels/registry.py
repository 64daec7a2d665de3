"""Which transport serves each channel type, chosen from settings (see ``build_channels``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from renraku.channels.base import Channel
from renraku.settings import Settings

if TYPE_CHECKING:
    from renraku.store import Store


def build_channels(settings: Settings, store: Store | None = None) -> dict[str, Channel]:
    """The channel transports named in ``settings``, keyed by channel type (EMAIL, SMS, ...).

    Real providers need the ``store`` (templates, opt-out, suppression, rate buckets, events);
    without one only store-free transports are built.
    """
    channels: dict[str, Channel] = {}
    if store is not None:
        from renraku.channels.providers import provider_channels

        channels.update(provider_channels(settings, store))
    from renraku.channels.voice import voice_channel

    channels["VOICE"] = voice_channel(settings)
    from renraku.channels.recording import RecordingChannel

    recorded = set(settings.journeys.record_channels)
    for kind in ("EMAIL", "SMS", "VOICE", "CUSTOM"):  # every channel not configured is recorded
        if kind not in channels or kind in recorded:
            channels[kind] = RecordingChannel(kind, settings.db)
    return channels
