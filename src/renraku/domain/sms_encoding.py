"""SMS length: GSM 03.38 (7-bit, with its extension table) or UCS-2, and segment counts.

A message that fits the GSM-7 alphabet costs 1 septet per character (2 for extension-table
characters such as ``€`` or ``[``): 160 septets in one segment, 153 per part when concatenated
(the user data header takes 7). Anything else is sent as UCS-2: 70 UTF-16 code units in one
segment, 67 per part. Japanese text is UCS-2. A character outside the BMP (most emoji) takes two
UTF-16 units, and a part never splits one (nor an extension escape pair).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_GSM7 = 160
PART_GSM7 = 153
SINGLE_UCS2 = 70
PART_UCS2 = 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class SmsLength:
    """How a text travels: its encoding, its length in units, and how many segments it takes."""

    encoding: Encoding
    characters: int  # Unicode characters
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    per_segment: int  # capacity of each segment in units, as sent
    non_gsm: tuple[str, ...] = ()  # the characters that forced UCS-2, in order of first use

    def to_json(self) -> dict[str, object]:
        return {
            "Encoding": self.encoding,
            "Characters": self.characters,
            "Units": self.units,
            "Segments": self.segments,
            "PerSegment": self.per_segment,
            "NonGsmCharacters": list(self.non_gsm),
        }


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def _unit_costs(text: str) -> tuple[Encoding, list[int]]:
    if is_gsm7(text):
        return "GSM-7", [2 if c in GSM7_EXTENSION else 1 for c in text]
    return "UCS-2", [2 if ord(c) > 0xFFFF else 1 for c in text]


def _pack(costs: list[int], capacity: int) -> int:
    """Parts needed when no character (or escape pair, or surrogate pair) is split."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            parts += 1
            used = 0
        used += cost
    return parts


def measure(text: str) -> SmsLength:
    """Encoding, length and segment count of ``text`` as an SMS."""
    encoding, costs = _unit_costs(text)
    units = sum(costs)
    single, part = (SINGLE_GSM7, PART_GSM7) if encoding == "GSM-7" else (SINGLE_UCS2, PART_UCS2)
    if units <= single:
        segments, capacity = (1 if units else 0), single
    else:
        segments, capacity = _pack(costs, part), part
    non_gsm: tuple[str, ...] = ()
    if encoding == "UCS-2":
        seen: dict[str, None] = {}
        for c in text:
            if c not in GSM7_BASIC and c not in GSM7_EXTENSION:
                seen.setdefault(c, None)
        non_gsm = tuple(seen)
    return SmsLength(encoding, len(text), units, segments, capacity, non_gsm)


def segment_count(text: str) -> int:
    return measure(text).segments


def estimate_cost(text: str, price_per_segment: float, recipients: int = 1) -> float:
    """Price of sending ``text`` to ``recipients`` at ``price_per_segment``."""
    return round(measure(text).segments * price_per_segment * recipients, 6)
