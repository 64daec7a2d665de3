"""Amazon Polly voices a flow may name, their language, and Twilio's spelling of them."""

from __future__ import annotations

# Voice -> language code (a working subset of Polly's voices; others fall back to en-US).
VOICE_LANGUAGES: dict[str, str] = {
    "Kazuha": "ja-JP",
    "Tomoko": "ja-JP",
    "Takumi": "ja-JP",
    "Mizuki": "ja-JP",
    "Joanna": "en-US",
    "Matthew": "en-US",
    "Ivy": "en-US",
    "Kendra": "en-US",
    "Kimberly": "en-US",
    "Salli": "en-US",
    "Joey": "en-US",
    "Justin": "en-US",
    "Kevin": "en-US",
    "Ruth": "en-US",
    "Stephen": "en-US",
    "Amy": "en-GB",
    "Emma": "en-GB",
    "Brian": "en-GB",
    "Arthur": "en-GB",
    "Olivia": "en-AU",
    "Lea": "fr-FR",
    "Vicki": "de-DE",
    "Lucia": "es-ES",
    "Seoyeon": "ko-KR",
    "Zhiyu": "cmn-CN",
}
# Voices Polly offers only on the neural engine.
NEURAL_ONLY = frozenset({"Kazuha", "Tomoko", "Ruth", "Stephen", "Arthur", "Danielle", "Gregory"})
DEFAULT_VOICE = "Joanna"


def language_of(voice: str) -> str:
    return VOICE_LANGUAGES.get(voice, "en-US")


def twilio_voice(voice: str, engine: str) -> str:
    """Twilio's name for a Polly voice: ``Polly.Kazuha-Neural`` (neural) or ``Polly.Mizuki``."""
    neural = engine.lower() == "neural" or voice in NEURAL_ONLY
    return f"Polly.{voice}-Neural" if neural else f"Polly.{voice}"
