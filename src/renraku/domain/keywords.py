"""Inbound SMS keywords: opt-out (STOP ...), opt-in (START ...) and HELP, in English and Japanese.

Carriers and providers treat these standard words as commands when they are the whole message
(ignoring case, surrounding spaces and punctuation); renraku does the same.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Literal

Keyword = Literal["STOP", "START", "HELP"]

STOP_WORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "STOP ALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "OPTOUT",
        "OPT OUT",
        "OPT-OUT",
        "REVOKE",
        "停止",
        "配信停止",
        "解除",
        "配信解除",
        "ストップ",
    }
)
START_WORDS = frozenset(
    {"START", "UNSTOP", "YES", "SUBSCRIBE", "OPTIN", "OPT IN", "再開", "配信再開"}
)
HELP_WORDS = frozenset({"HELP", "INFO", "ヘルプ"})


def normalise(body: str) -> str:
    """NFKC (full-width letters become ASCII), upper case, trimmed of spaces and punctuation."""
    text = unicodedata.normalize("NFKC", body).strip().upper()
    return text.strip(" \t\r\n.!?。！？、,")


def classify(body: str, extra_stop: Iterable[str] = ()) -> Keyword | None:
    """The command an inbound message is, or None for ordinary text."""
    text = normalise(body)
    if text in STOP_WORDS or text in {normalise(w) for w in extra_stop}:
        return "STOP"
    if text in START_WORDS:
        return "START"
    if text in HELP_WORDS:
        return "HELP"
    return None
