"""Token buckets shared through the database (both dialects)."""

from __future__ import annotations

import pytest

from renraku.channels.config import PolicySettings
from renraku.channels.policies import ProviderError, RateLimiter
from renraku.store import Store
from renraku.store import deliverability as dv


def test_a_bucket_gives_its_burst_then_one_token_per_interval(store: Store) -> None:
    with store.begin() as conn:
        waits = [dv.take_token(conn, "p", rate=2.0, burst=3.0, now=100.0) for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert abs(waits[3] - 0.5) < 1e-6  # empty: the next token is due in 1/rate seconds
    with store.begin() as conn:
        assert dv.take_token(conn, "p", rate=2.0, burst=3.0, now=100.5) == 0.0
        assert dv.take_token(conn, "p", rate=2.0, burst=3.0, now=100.5) > 0
        # A long pause refills only up to the burst.
        assert [dv.take_token(conn, "p", rate=2.0, burst=3.0, now=200.0) for _ in range(4)][3] > 0


def test_rate_limiter_waits_on_the_shared_clock_and_gives_up_after_its_limit(store: Store) -> None:
    clock = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    policies = PolicySettings(rate_limits={"smtp": 1.0})
    limiter = RateLimiter(store, policies, clock=lambda: clock[0], sleep=sleep, max_wait_seconds=5)
    assert limiter.acquire("smtp") == 0.0
    assert limiter.acquire("smtp") > 0  # waited for the refill
    assert slept
    assert limiter.acquire("unlimited") == 0.0

    stuck = RateLimiter(
        store,
        PolicySettings(rate_limits={"ses": 1.0}),
        clock=lambda: 0.0,
        sleep=lambda _: None,
        max_wait_seconds=0.5,
    )
    stuck.acquire("ses")
    with pytest.raises(ProviderError, match=r"rate limit of ses \(1.0/s\)") as caught:
        stuck.acquire("ses")
    assert caught.value.permanent is False


def test_concurrent_workers_never_take_more_tokens_than_the_bucket_holds(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    policies = PolicySettings(rate_limits={"twilio": 5.0}, burst={"twilio": 5})

    def worker(_: int) -> bool:
        # Each thread is a separate worker with its own limiter; time stands still, so only the
        # bucket's initial five tokens exist.
        limiter = RateLimiter(
            store, policies, clock=lambda: 5000.0, sleep=lambda _: None, max_wait_seconds=0.0
        )
        try:
            limiter.acquire("twilio")
        except ProviderError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        taken = list(pool.map(worker, range(24)))
    assert taken.count(True) == 5
