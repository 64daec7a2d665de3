"""Log masking: secrets never reach a log line; phone numbers and emails are masked by default."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renraku.masking import MaskingFilter, mask, mask_contacts, mask_secrets


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("auth_token=9f8e7d6c5b4a39281706f5e4d3c2b1a0", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
        ('{"AuthToken": "s3cr3t-value"}', "s3cr3t-value"),
        ("password: hunter2hunter2", "hunter2hunter2"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9.e30.sig"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("key id AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
        ("postgresql://renraku:pa55word@db.internal/renraku", "pa55word"),
        ("X-Twilio-Signature=abcDEF123/+=", "abcDEF123"),
        ("signing_key='k-123456789'", "k-123456789"),
        ("{'X-Amz-Security-Token': b'IQoJb3JpZ2luX2Vj'}", "IQoJb3JpZ2luX2Vj"),
        ("retrying with Bearer RKIAABC.s3cretvalue after 401", "s3cretvalue"),
        ("redis://:r3dis-pass@cache.internal:6379/0", "r3dis-pass"),
    ],
)
def test_secret_values_are_replaced_whatever_their_spelling(text: str, secret: str) -> None:
    masked = mask_secrets(text)
    assert secret not in masked
    assert "***" in masked or "****" in masked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("calling +819012345678 now", "calling +81********78 now"),
        ("to +1 415-555-0100", "to +14*******00"),
        ("mail u12@example.com bounced", "mail u***@example.com bounced"),
        ("national 09012345678", "national 090******78"),
    ],
)
def test_phone_numbers_and_emails_keep_only_enough_to_tell_them_apart(
    text: str, expected: str
) -> None:
    assert mask_contacts(text) == expected


def test_ids_timestamps_and_counts_are_left_alone() -> None:
    text = "journey 3f2a9c app 1234567890 at 2026-03-05T01:00:00.000Z took 12345 ms, User42-SMS"
    assert mask(text) == text


@given(st.text(max_size=200))
def test_masking_never_fails_and_never_grows_a_line_without_bound(text: str) -> None:
    out = mask(text)
    assert isinstance(out, str)
    assert len(out) <= len(text) + 40 * (text.count("=") + text.count(":") + 2)


def test_the_filter_masks_arguments_and_exception_text_of_a_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("renraku.test.masking")
    caplog.handler.addFilter(MaskingFilter(contacts=True))
    try:
        with caplog.at_level(logging.WARNING, logger="renraku.test.masking"):
            logger.warning("sms to %s failed, token=%s", "+819012345678", "tok-abcdef")
            try:
                raise RuntimeError("provider said no for a@example.org password=zzz999")
            except RuntimeError:
                logger.exception("send failed")
    finally:
        caplog.handler.filters.clear()
    text = caplog.text
    assert "+819012345678" not in text
    assert "tok-abcdef" not in text
    assert "a@example.org" not in text
    assert "zzz999" not in text
    assert "+81********78" in text
    assert "a***@example.org" in text


def test_contacts_can_be_shown_while_debugging_but_secrets_never(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RENRAKU_LOG_PII", "show")
    record = logging.LogRecord(
        "renraku", logging.INFO, __file__, 1, "to %s api_key=%s", ("+819012345678", "k1"), None
    )
    MaskingFilter().filter(record)
    assert record.getMessage() == "to +819012345678 api_key=***"
