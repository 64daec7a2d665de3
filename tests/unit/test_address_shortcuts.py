"""The address shortcuts give exactly the libraries' answers (email-validator, phonenumbers)."""

from __future__ import annotations

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from renraku.domain.addresses import (
    AddressError,
    _plain_email,
    _plus_digits,
    normalise_email,
    normalise_phone,
)

_ATEXT = "abcxyzABCXYZ0189_!#$%&'*+-/=?^`{|}~"
_LOCAL = st.one_of(
    st.text(alphabet=_ATEXT + ".", min_size=0, max_size=12),
    st.text(alphabet=_ATEXT + '. "@<>()[]\\,;:éü\u0301\u200b', min_size=0, max_size=12),
    st.sampled_from(["postmaster", "Abuse", "WEBMASTER", "a" * 64, "a" * 65, "x" * 240]),
)
_DOMAIN = st.one_of(
    st.text(alphabet="abcXYZ019.-", min_size=0, max_size=14),
    st.text(alphabet="abc019.-_ü例．[]:@ ", min_size=0, max_size=14),
    st.sampled_from(
        [
            "example.com",
            "EXAMPLE.JP",
            "localhost",
            "test",
            "a.invalid",
            "x.local",
            "com",
            "123.45",
            "ab--cd.com",
            "xn--bcher-kva.example",
            "xn--zz.example",
            "a-.com",
            "-a.com",
            "a..com",
            ".a.com",
            "a.com.",
            ("a" * 63 + ".") * 3 + "com",
            "b" * 64 + ".com",
        ]
    ),
)


def _reference_email(text: str) -> tuple[str | None, str | None]:
    try:
        return str(validate_email(text, check_deliverability=False).normalized), None
    except EmailNotValidError as exc:
        return None, str(exc)


@settings(max_examples=400, deadline=None)
@given(local=_LOCAL, domain=_DOMAIN)
@example(local="user1", domain="example.com")
@example(local="Postmaster", domain="Example.COM")
@example(local="a" * 240, domain="example.com")
def test_plain_email_shortcut_agrees_with_email_validator(local: str, domain: str) -> None:
    text = f"{local}@{domain}"
    fast = _plain_email(text)
    value = _reference_email(text)[0]
    if fast is not None:
        assert fast == value
    stripped = text.strip()
    if not stripped:
        return
    expected_value, expected_reason = _reference_email(stripped)
    if expected_value is not None:
        assert normalise_email(text) == expected_value
    else:
        with pytest.raises(AddressError) as caught:
            normalise_email(text)
        assert str(caught.value) == f"is not a valid email address: {expected_reason}"


@given(st.text(max_size=30))
def test_any_text_gets_email_validators_answer(text: str) -> None:
    fast = _plain_email(text)
    if fast is not None:
        assert fast == _reference_email(text)[0]


def test_the_email_shortcut_takes_the_common_addresses() -> None:
    assert _plain_email("user123@example.com") == "user123@example.com"
    assert _plain_email("Taro.Yamada@EXAMPLE.JP") == "Taro.Yamada@example.jp"
    assert _plain_email("Postmaster@example.jp") == "postmaster@example.jp"
    # Not plain: left to email-validator itself.
    assert _plain_email("太郎@example.jp") is None
    assert _plain_email("a@例え.jp") is None
    assert _plain_email("a@localhost") is None


_REGIONS = st.sampled_from([None, "JP", "US", "CA", "GB", "SG", "IT", "DE", "BR", "CN", "IN", "AR"])
_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@st.composite
def _plus_numbers(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
    kind = draw(st.sampled_from(["example", "code", "digits"]))
    if kind == "example":
        number = phonenumbers.example_number(region) or phonenumbers.example_number("JP")
        assert number is not None
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        # Change, drop or add a few digits.
        digits = list(text[1:])
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(digits)))
            op = draw(st.sampled_from(["set", "drop", "add"]))
            digit = draw(st.sampled_from("0123456789"))
            if op == "add":
                digits.insert(at, digit)
            elif at < len(digits):
                digits[at] = digit if op == "set" else ""
        return "+" + "".join(digits)
    if kind == "code":
        code = draw(st.sampled_from(_CODES))
        return f"+{code}" + draw(st.text(alphabet="0123456789", min_size=0, max_size=15))
    return "+" + draw(st.text(alphabet="0123456789", min_size=0, max_size=18))


@settings(max_examples=800, deadline=None)
@given(raw=_plus_numbers(), region=_REGIONS)
@example(raw="+818086530253", region="JP")
@example(raw="+8108086530253", region="JP")
@example(raw="+14155550123", region="US")
@example(raw="+390612345678", region=None)
@example(raw="+447400123456", region="GB")
def test_plus_digits_shortcut_is_what_phonenumbers_parses(raw: str, region: str | None) -> None:
    fast = _plus_digits(raw)
    if fast is None:
        return
    assert fast == phonenumbers.parse(raw, region)


def test_the_phone_shortcut_takes_e164_numbers_and_leaves_the_rest() -> None:
    assert _plus_digits("+818086530253") is not None
    assert _plus_digits("+14155550123") is not None
    assert _plus_digits("+8108086530253") is None  # national prefix 0: parse decides
    assert _plus_digits("+81 80 8653 0253") is None
    assert _plus_digits("08086530253") is None
    assert normalise_phone("+818086530253", "JP") == "+818086530253"
    assert normalise_phone("+8108086530253", "JP") == "+818086530253"
