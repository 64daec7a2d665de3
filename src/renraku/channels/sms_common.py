"""What every SMS provider shares: the rendered body, number checks, segment figures."""

from __future__ import annotations

from typing import Any

import phonenumbers

from renraku.channels.pipeline import Outgoing, message_setting
from renraku.channels.policies import ProviderError
from renraku.domain.sms_encoding import measure

MAX_SEGMENTS = 10  # most carriers refuse longer concatenated messages


def body_of(item: Outgoing) -> str:
    body = item.parts.get("Body", "")
    if not body.strip():
        raise ProviderError("the SMS body is empty after rendering", permanent=True)
    length = measure(body)
    if length.segments > MAX_SEGMENTS:
        raise ProviderError(
            f"the SMS body needs {length.segments} segments ({length.encoding}); at most "
            f"{MAX_SEGMENTS} are sent",
            permanent=True,
        )
    return body


def check_number(address: str) -> str:
    """The E.164 number, or a permanent ProviderError naming what is wrong with it."""
    try:
        number = phonenumbers.parse(address, None)
    except phonenumbers.NumberParseException as exc:
        raise ProviderError(
            f"{address!r} is not an E.164 phone number: {exc}", permanent=True, code="InvalidNumber"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ProviderError(
            f"{address!r} is not a valid phone number", permanent=True, code="InvalidNumber"
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def sms_data(body: str, price_per_segment: float) -> dict[str, Any]:
    length = measure(body)
    data: dict[str, Any] = {"Encoding": length.encoding, "Segments": length.segments}
    if price_per_segment:
        data["EstimatedPrice"] = round(length.segments * price_per_segment, 6)
    return data


def origination(item: Outgoing, configured: str | None) -> str | None:
    given = message_setting(item.delivery.config, "OriginationNumber")
    return str(given or configured or "") or None
