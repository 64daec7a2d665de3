"""Policies around every send: who may receive (opt-out, status, suppression), how fast (token
buckets shared through the database) and how often to retry (exponential backoff, full jitter).

Providers raise :class:`ProviderError` for a failed message; the pipeline turns it into a
``DeliveryResult`` and an event, so no provider error reaches the worker loop.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from renraku.channels.buckets import for_store
from renraku.channels.config import PolicySettings, RetrySettings
from renraku.domain.endpoints import Endpoint
from renraku.store import Store
from renraku.store import deliverability as dv

T = TypeVar("T")


class ProviderError(Exception):
    """A provider refused or failed one message.

    ``permanent``: retrying cannot help (invalid address, bad credentials, rejected content).
    ``bounce``/``opt_out``: the address itself is bad or asked not to be contacted.
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        code: str | None = None,
        bounce: bool = False,
        opt_out: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.code = code
        self.bounce = bounce
        self.opt_out = opt_out

    def __str__(self) -> str:
        return self.reason


def screen(endpoint: Endpoint | None, suppression_reason: str | None) -> str | None:
    """Why a message must not go to ``endpoint`` now, or None when it may."""
    if endpoint is None:
        return "the endpoint no longer exists"
    if endpoint.opted_out:
        return "the endpoint has opted out (OptOut=ALL)"
    if not endpoint.active:
        return f"the endpoint is {endpoint.endpoint_status}"
    if suppression_reason is not None:
        return f"the address is on the suppression list ({suppression_reason})"
    return None


# Suppression reasons that concern one channel only: a STOP reply stops SMS, not calls; a bounce
# concerns email. Other reasons (MANUAL, UNSUBSCRIBE, COMPLAINT) stop every channel.
CHANNEL_REASONS = {"STOP": frozenset({"SMS"}), "BOUNCE": frozenset({"EMAIL"})}


def applies(reason: str | None, channel: str) -> bool:
    """Whether a suppression ``reason`` stops messages on ``channel``."""
    if reason is None:
        return False
    only = CHANNEL_REASONS.get(reason)
    return only is None or channel in only


def refusal(store: Store, app_id: str, endpoint_id: str, channel: str) -> str | None:
    """Why a message must not go to this endpoint now (fresh from the store), or None.

    For transports outside the shared pipeline (e.g. VOICE) to apply the same policy.
    """
    from renraku.store import endpoints as endpoint_store

    with store.connect() as conn:
        endpoint = endpoint_store.find(conn, app_id, endpoint_id)
        reason = None
        if endpoint is not None:
            found = dv.suppressed(conn, app_id, [endpoint.address])
            reason = next(iter(found.values()), None)
    return screen(endpoint, reason if applies(reason, channel) else None)


@dataclass
class Backoff:
    """Delays between attempts: ``uniform(0, min(max, base * 2**attempt))`` (full jitter)."""

    settings: RetrySettings
    rng: random.Random

    def delay(self, attempt: int) -> float:
        ceiling = min(
            self.settings.max_delay_seconds, self.settings.base_delay_seconds * 2**attempt
        )
        return self.rng.uniform(0.0, ceiling)


def with_retries(
    call: Callable[[], T],
    backoff: Backoff,
    sleep: Callable[[float], None],
) -> tuple[T, int]:
    """Run ``call``, retrying transient ProviderErrors; returns the value and the attempts used."""
    attempts = backoff.settings.max_attempts
    for attempt in range(attempts):
        try:
            return call(), attempt + 1
        except ProviderError as exc:
            if exc.permanent or attempt + 1 >= attempts:
                exc.reason = (
                    exc.reason if attempt == 0 else f"{exc.reason} (after {attempt + 1} attempts)"
                )
                raise
            sleep(backoff.delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


class RateLimiter:
    """Per-provider token buckets in the database, so every worker on every host shares them."""

    def __init__(
        self,
        store: Store,
        settings: PolicySettings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_seconds: float = 60.0,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.max_wait_seconds = max_wait_seconds

    def acquire(self, provider: str) -> float:
        """Wait for a token of ``provider``'s bucket; returns the seconds waited.

        Raises a transient ProviderError if no token came within ``max_wait_seconds``.
        """
        rate = self.settings.rate_limits.get(provider)
        if not rate:
            return 0.0
        burst = float(self.settings.burst.get(provider) or max(1.0, rate))
        waited = 0.0
        while True:
            wait = for_store(self.store).take_one(
                None, f"provider:{provider}", rate=rate, burst=burst, now=self.clock()
            )
            if wait <= 0:
                return waited
            if waited + wait > self.max_wait_seconds:
                raise ProviderError(
                    f"rate limit of {provider} ({rate}/s) left no capacity for {self.max_wait_seconds}s",
                    permanent=False,
                    code="RateLimited",
                )
            self.sleep(wait)
            waited += wait
