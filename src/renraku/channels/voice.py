"""The VOICE channel chosen by ``[voice] provider``: simulator (default), twilio or connect.

Voice transports need the whole App (store, journey clock, flows), so they are built here from
settings and receive the App through ``bind(app)`` once ``build_app`` has wired it.
"""

from __future__ import annotations

from renraku.channels.base import Channel
from renraku.settings import Settings


def voice_channel(settings: Settings) -> Channel:
    provider = settings.voice.provider
    if provider == "twilio":
        from renraku.channels.voice_twilio import TwilioVoice

        return TwilioVoice(settings)
    if provider == "connect":
        from renraku.channels.voice_connect import ConnectVoice

        return ConnectVoice(settings)
    from renraku.channels.voice_simulator import SimulatedVoice

    return SimulatedVoice(settings)
