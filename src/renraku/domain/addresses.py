"""Endpoint addresses: phone numbers to E.164 (``phonenumbers``), emails by syntax (``email-validator``).

Every function here is pure. Phone results are cached per distinct (raw text, region), because a
customer list repeats each number on its VOICE/CUSTOM and SMS rows.

Two shortcuts give the libraries' own answers at a fraction of their cost (property tests compare
them with the libraries on generated input):

- An email whose part before the @-sign is a plain ASCII dot-atom and whose domain is written in
  ASCII hostname characters is accepted from that check and the domain's result, which
  email-validator computes once per distinct domain. Anything else, and every rejection, goes
  through ``validate_email`` itself, so messages are the library's.
- A phone number written as ``+`` and digits is built from its country code and national number
  without ``phonenumbers.parse`` when parsing could not change it (no national prefix that the
  country's metadata would strip, no leading zero); it is then checked exactly as a parsed one.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import (
    CASE_INSENSITIVE_MAILBOX_NAMES,
    DOT_ATOM_TEXT,
    EMAIL_MAX_LENGTH,
)
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber

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


_PLUS_DIGITS = re.compile(r"\+[1-9][0-9]{5,16}\Z")


@lru_cache(maxsize=1024)
def _national_prefix(country_code: int) -> re.Pattern[str] | None:
    """The pattern ``phonenumbers.parse`` strips as a national prefix after this country code."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        raise LookupError(country_code)
    prefix = metadata.national_prefix_for_parsing
    return re.compile(prefix) if prefix else None


def _plus_digits(raw: str) -> PhoneNumber | None:
    """``phonenumbers.parse(raw)`` for ``+`` and digits that parsing cannot change, else None.

    The country code is the one prefix of 1-3 digits that is a known code (they are
    prefix-free); the rest is the national number as given, unless the country's metadata has a
    national prefix matching its start or it starts with 0 (leading zeros): those go to parse.
    """
    if not _PLUS_DIGITS.match(raw):
        return None
    for width in (1, 2, 3):
        country_code = int(raw[1 : 1 + width])
        if country_code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = raw[1 + width :]
    if len(national) < 2 or national[0] == "0":
        return None
    try:
        prefix = _national_prefix(country_code)
    except LookupError:
        return None
    if prefix is not None and prefix.match(national):
        return None
    return PhoneNumber(country_code=country_code, national_number=int(national))


# Small on purpose: a list repeats a number on neighbouring rows (call, SMS), not far apart.
@lru_cache(maxsize=1 << 14)
def _phone(raw: str, region: str | None) -> tuple[str | None, str | None]:
    try:
        number = _plus_digits(raw) or phonenumbers.parse(raw, region)
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


_PLAIN_EMAIL = re.compile(r"([^@]+)@([A-Za-z0-9.\-]+)\Z")
_MAILBOX_NAMES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> tuple[str, str] | None:
    """(domain, its IDNA ASCII form) as email-validator normalises the part after the @-sign,
    or None when it rejects an address with that domain and a one-letter local part."""
    try:
        result = validate_email("a@" + domain, check_deliverability=False)
    except EmailNotValidError:
        return None
    return str(result.domain), str(result.ascii_domain)


def _plain_email(text: str) -> str | None:
    """``validate_email(text).normalized`` for plain ASCII addresses it accepts, else None.

    email-validator accepts a local part matching its own ``DOT_ATOM_TEXT`` as it is (lower-cased
    when it is a mailbox name like ``postmaster``), checks the domain on its own, then the
    lengths of the whole address; each step is repeated here, the domain's from a cache.
    """
    if not text.isascii():
        return None
    match = _PLAIN_EMAIL.match(text)
    if match is None:
        return None
    local, domain = match.groups()
    if not DOT_ATOM_TEXT.match(local):
        return None
    found = _email_domain(domain)
    if found is None:
        return None
    if local.lower() in _MAILBOX_NAMES:
        local = local.lower()
    normalized = f"{local}@{found[0]}"
    longest = max(len(text), len(normalized.encode()), len(local) + 1 + len(found[1]))
    return normalized if longest <= EMAIL_MAX_LENGTH else None


def normalise_email(raw: str) -> str:
    """``raw`` as a syntactically valid email address (domain lower-cased, Unicode NFC).

    No DNS lookups are made. Raises :class:`AddressError` with email-validator's reason.
    """
    text = raw.strip()
    if not text:
        raise AddressError("is empty")
    plain = _plain_email(text)
    if plain is not None:
        return plain
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
