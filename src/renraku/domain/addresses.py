"""Endpoint addresses: phone numbers to E.164 (``phonenumbers``), emails by syntax (``email-validator``).

Every function here is pure. Phone results are cached per distinct (raw text, region), because a
customer list repeats each number on its VOICE/CUSTOM and SMS rows.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# Channels whose address must be a phone number.
PHONE_ADDRESS_CHANNELS = frozenset({"VOICE", "SMS"})
MAX_ADDRESS = 512

# A CUSTOM address that looks like this is treated as a phone number: an optional "+", then
# digits (ASCII or full-width) with the separators people type, and 7 to 17 digits in all.
_PHONE_LIKE = re.compile(r"^\s*[+＋]?[\s\d０-９()（）\-－ー.]+$")
_DIGIT = re.compile(r"[\d０-９]")

_E164 = phonenumbers.PhoneNumberFormat.E164
_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has no valid country code",
    phonenumbers.ValidationResult.TOO_SHORT: "is too short",
    phonenumbers.ValidationResult.TOO_LONG: "is too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "has an impossible length",
}


class AddressError(ValueError):
    """An address that cannot be used; the message says why in words a person can act on."""


def looks_like_phone(text: str) -> bool:
    """True when ``text`` is written like a phone number (used for CUSTOM endpoints)."""
    if not _PHONE_LIKE.match(text):
        return False
    digits = len(_DIGIT.findall(text))
    return 7 <= digits <= 17


# Small on purpose: a list repeats a number on neighbouring rows (call, SMS), not far apart.
@lru_cache(maxsize=1 << 14)
def _phone(raw: str, region: str | None) -> tuple[str | None, str | None]:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            if region is None and not raw.lstrip().startswith(("+", "＋")):
                return None, (
                    "is a national number without a country code: write it as +<country code>... "
                    "or give a default region (e.g. --default-region JP)"
                )
            return None, "has no valid country code"
        return None, "is not a phone number"
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible not in (
        phonenumbers.ValidationResult.IS_POSSIBLE,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ):
        return (
            None,
            f"is an impossible phone number: it {_REASONS.get(possible, 'is not possible')}",
        )
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or f"+{number.country_code}"
        return None, f"is not a valid phone number in {where}"
    return phonenumbers.format_number(number, _E164), None


def normalise_phone(raw: str, default_region: str | None = None) -> str:
    """``raw`` as E.164 (``+819011111111``); ``default_region`` reads national numbers.

    Raises :class:`AddressError` for text that is not a phone number, impossible numbers (wrong
    length) and numbers no carrier could have (invalid for their region).
    """
    text = raw.strip()
    if not text:
        raise AddressError("is empty")
    region = default_region.upper() if default_region else None
    value, reason = _phone(text, region)
    if value is None:
        raise AddressError(reason or "is not a phone number")
    return value


def normalise_email(raw: str) -> str:
    """``raw`` as a syntactically valid email address (domain lower-cased, Unicode NFC).

    No DNS lookups are made. Raises :class:`AddressError` with email-validator's reason.
    """
    text = raw.strip()
    if not text:
        raise AddressError("is empty")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError(f"is not a valid email address: {exc}") from None
    return str(result.normalized)


def normalise_address(channel: str, raw: str, default_region: str | None = None) -> str:
    """The normalised address for ``channel``: phones for VOICE/SMS, emails for EMAIL.

    A CUSTOM address written like a phone number is normalised (and checked) as one; other CUSTOM
    addresses and the push channels' device tokens are kept as given, trimmed.
    """
    text = raw.strip()
    if not text:
        raise AddressError("is empty")
    if len(text) > MAX_ADDRESS:
        raise AddressError(f"is longer than {MAX_ADDRESS} characters")
    if channel in PHONE_ADDRESS_CHANNELS:
        return normalise_phone(text, default_region)
    if channel == "EMAIL":
        return normalise_email(text)
    if channel == "CUSTOM" and looks_like_phone(text):
        return normalise_phone(text, default_region)
    return text
