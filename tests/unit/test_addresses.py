"""Address normalisation: phones to E.164 with a default region, emails by syntax, CUSTOM phones."""

from __future__ import annotations

import pytest

from renraku.domain.addresses import (
    AddressError,
    looks_like_phone,
    normalise_address,
    normalise_email,
    normalise_phone,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("090-1111-1111", "+819011111111"),
        ("09011111111", "+819011111111"),
        ("+81 90 1111 1111", "+819011111111"),
        ("(03) 1234-5678", "+81312345678"),
        ("０９０－１１１１－１１１１", "+819011111111"),
        ("+1 202-555-0143", "+12025550143"),
    ],
)
def test_national_and_international_phone_numbers_become_e164_with_region_jp(
    raw: str, expected: str
) -> None:
    assert normalise_phone(raw, "JP") == expected


def test_default_region_is_case_insensitive() -> None:
    assert normalise_phone("090-1111-1111", "jp") == "+819011111111"


def test_national_number_without_region_is_rejected_with_a_hint() -> None:
    with pytest.raises(AddressError, match="default region"):
        normalise_phone("090-1111-1111", None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("12", "impossible"),
        ("+81 90 1111 11111111", "impossible|not a valid"),
        ("+819001111111", "not a valid phone number in JP"),
        ("call me", "not a phone number"),
        ("", "empty"),
    ],
)
def test_impossible_invalid_and_non_numbers_are_rejected_with_the_reason(
    raw: str, reason: str
) -> None:
    with pytest.raises(AddressError, match=reason):
        normalise_phone(raw, "JP")


def test_email_is_checked_by_syntax_and_its_domain_lower_cased() -> None:
    assert normalise_email(" Taro.Yamada@EXAMPLE.JP ") == "Taro.Yamada@example.jp"


@pytest.mark.parametrize("raw", ["no-at-sign", "a@@example.com", "a@", "@example.com", "a b@x.jp"])
def test_malformed_emails_are_rejected(raw: str) -> None:
    with pytest.raises(AddressError, match="not a valid email address"):
        normalise_email(raw)


def test_email_domains_are_not_looked_up_in_dns() -> None:
    # A syntactically valid domain that does not exist is accepted: no network is used.
    assert normalise_email("x@no-such-domain-renraku.invalid-tld-zz") == (
        "x@no-such-domain-renraku.invalid-tld-zz"
    )


def test_custom_address_that_looks_like_a_phone_is_normalised_as_one() -> None:
    assert normalise_address("CUSTOM", "090-1111-1111", "JP") == "+819011111111"


def test_custom_address_that_is_an_impossible_phone_is_rejected() -> None:
    with pytest.raises(AddressError, match="impossible"):
        normalise_address("CUSTOM", "+81 90 1111", "JP")


def test_custom_address_that_is_not_phone_like_is_kept_as_given() -> None:
    assert normalise_address("CUSTOM", " arn:aws:lambda:fn ", "JP") == "arn:aws:lambda:fn"
    assert normalise_address("CUSTOM", "12345", "JP") == "12345"


def test_voice_and_sms_require_phone_numbers_and_email_requires_an_email() -> None:
    assert normalise_address("VOICE", "090-1111-1111", "JP") == "+819011111111"
    assert normalise_address("SMS", "+819011111111", None) == "+819011111111"
    with pytest.raises(AddressError):
        normalise_address("SMS", "test@example.com", "JP")
    with pytest.raises(AddressError):
        normalise_address("EMAIL", "+819011111111", "JP")


def test_phone_likeness_needs_seven_to_seventeen_digits() -> None:
    assert looks_like_phone("+81 90-1111-1111")
    assert not looks_like_phone("123456")
    assert not looks_like_phone("user-42")
