"""Send policies: who may receive, backoff with full jitter, bounded retries; unsubscribe tokens."""

from __future__ import annotations

import random

import pytest

from renraku.channels import unsubscribe
from renraku.channels.config import RetrySettings
from renraku.channels.policies import Backoff, ProviderError, screen, with_retries
from renraku.channels.sns_verify import host_allowed, string_to_sign
from renraku.domain.endpoints import Endpoint

EP = Endpoint(app_id="a", id="e", channel_type="SMS", address="+819011111111")


def test_screen_refuses_missing_opted_out_inactive_and_suppressed_endpoints() -> None:
    assert screen(EP, None) is None
    assert screen(None, None) == "the endpoint no longer exists"
    assert "opted out" in (screen(Endpoint(**{**_fields(), "opt_out": "ALL"}), None) or "")
    assert "INACTIVE" in (
        screen(Endpoint(**{**_fields(), "endpoint_status": "INACTIVE"}), None) or ""
    )
    assert screen(EP, "STOP") == "the address is on the suppression list (STOP)"


def _fields() -> dict[str, object]:
    return {"app_id": "a", "id": "e", "channel_type": "SMS", "address": "+819011111111"}


def test_backoff_delays_stay_under_the_exponential_ceiling() -> None:
    backoff = Backoff(
        RetrySettings(base_delay_seconds=0.5, max_delay_seconds=3.0), random.Random(7)
    )
    for attempt in range(8):
        ceiling = min(3.0, 0.5 * 2**attempt)
        delays = [backoff.delay(attempt) for _ in range(50)]
        assert all(0 <= d <= ceiling for d in delays)
    assert len({round(backoff.delay(2), 6) for _ in range(20)}) > 1  # jittered, not fixed


def test_transient_errors_are_retried_until_success() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ProviderError("busy", permanent=False)
        return "ok"

    backoff = Backoff(RetrySettings(max_attempts=5), random.Random(1))
    assert with_retries(flaky, backoff, sleeps.append) == ("ok", 3)
    assert len(sleeps) == 2


def test_permanent_errors_are_not_retried() -> None:
    calls: list[int] = []

    def refused() -> str:
        calls.append(1)
        raise ProviderError("invalid number", permanent=True)

    with pytest.raises(ProviderError, match="invalid number"):
        with_retries(
            refused, Backoff(RetrySettings(max_attempts=5), random.Random(1)), lambda _: None
        )
    assert len(calls) == 1


def test_retries_stop_at_max_attempts_and_say_so() -> None:
    def always() -> str:
        raise ProviderError("down", permanent=False)

    with pytest.raises(ProviderError, match=r"down \(after 3 attempts\)"):
        with_retries(
            always, Backoff(RetrySettings(max_attempts=3), random.Random(1)), lambda _: None
        )


def test_unsubscribe_tokens_bind_application_and_endpoint() -> None:
    token = unsubscribe.token("s3cret", "app1", "ep1")
    assert unsubscribe.verify("s3cret", "app1", "ep1", token)
    assert not unsubscribe.verify("s3cret", "app1", "ep2", token)
    assert not unsubscribe.verify("other", "app1", "ep1", token)
    url = unsubscribe.url("https://x.example/", "s3cret", "app1", "ep/1")
    assert (
        url
        == f"https://x.example/hooks/unsubscribe/app1/ep%2F1?t={unsubscribe.token('s3cret', 'app1', 'ep/1')}"
    )


def test_sns_string_to_sign_follows_the_documented_key_order() -> None:
    message = {
        "Type": "Notification",
        "MessageId": "m1",
        "TopicArn": "arn:t",
        "Message": "hello",
        "Timestamp": "2026-01-01T00:00:00Z",
        "Signature": "ignored",
    }
    assert string_to_sign(message) == (
        b"Message\nhello\nMessageId\nm1\nTimestamp\n2026-01-01T00:00:00Z\nTopicArn\narn:t\nType\nNotification\n"
    )


def test_sns_certificates_come_only_from_https_sns_hosts() -> None:
    patterns = ["sns.*.amazonaws.com"]
    assert host_allowed("https://sns.us-east-1.amazonaws.com/cert.pem", patterns)
    assert not host_allowed("http://sns.us-east-1.amazonaws.com/cert.pem", patterns)
    assert not host_allowed("https://sns.us-east-1.amazonaws.com.evil.example/c.pem", patterns)
    assert not host_allowed("https://evil.example/sns.us-east-1.amazonaws.com", patterns)


def test_channel_specific_suppressions_stop_only_their_channel() -> None:
    from renraku.channels.policies import applies

    assert applies("STOP", "SMS")
    assert not applies("STOP", "VOICE")
    assert not applies("STOP", "CUSTOM")
    assert applies("BOUNCE", "EMAIL")
    assert not applies("BOUNCE", "SMS")
    assert all(
        applies(r, c) for r in ("MANUAL", "UNSUBSCRIBE", "COMPLAINT") for c in ("SMS", "VOICE")
    )
    assert not applies(None, "SMS")
