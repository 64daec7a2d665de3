"""Who is calling: bearer tokens and SigV4 signatures over renraku API keys, replay and throttling.

Every route except the health probes and metrics needs a key. A key is bound to one application
(or is an administrator key); :meth:`Principal.require_app` is the one place that decides whether
a caller may touch an application's data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from renraku.api import sigv4
from renraku.api.config import ServerSettings
from renraku.api.keyring import KeyRing
from renraku.store.api_keys import secret_matches

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuthError(Exception):
    """A refused request: HTTP ``status``, AWS-style ``code`` and a message saying why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    key_id: str
    app_id: str | None  # None: administrator key
    signature: str | None = None
    # Wall-clock time after which a signed request is refused as expired (so no longer a replay).
    signature_expires: float | None = None

    @property
    def is_admin(self) -> bool:
        return self.app_id is None

    def may_access(self, app_id: str) -> bool:
        return self.app_id is None or self.app_id == app_id

    def require_app(self, app_id: str) -> None:
        """Refuse access to another application's data (without saying whether it exists)."""
        if not self.may_access(app_id):
            raise AuthError(
                403,
                "ForbiddenException",
                f"access key {self.key_id} is not authorized for application {app_id!r}",
            )

    def require_admin(self, action: str) -> None:
        if not self.is_admin:
            raise AuthError(
                403,
                "ForbiddenException",
                f"access key {self.key_id} belongs to one application and cannot {action}; "
                "use an administrator key (`renraku keys create --admin`)",
            )


class Throttle:
    """A token bucket per key: ``rate`` requests per second sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        at = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, at))
            tokens = min(self.burst, tokens + (at - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, at)
                return False
            self._buckets[key] = (tokens - 1.0, at)
            return True


class ReplayGuard:
    """Remembers the signatures of processed state-changing requests until they expire.

    A signed request is valid for the clock-skew window; within it, the same signature on a
    POST, PUT, PATCH or DELETE that was already processed is refused. Requests answered 429 or
    5xx are not remembered, so a client's retry (which boto3 re-signs) is never taken for a replay.
    The memory is per server process.

    A signature is kept only until its request could no longer be accepted anyway (its signing
    time plus the window), as a 64-bit hash in a set per ``BUCKET_SECONDS`` of expiry; expired
    sets are dropped whole. So memory stays flat under steady load: about 70 bytes per state-
    changing request of the last window (300 s by default).
    """

    BUCKET_SECONDS = 10

    def __init__(self, window_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.window = window_seconds
        self._clock = clock
        self._buckets: dict[int, set[int]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def __len__(self) -> int:
        with self._lock:
            return sum(len(bucket) for bucket in self._buckets.values())

    def seen(self, signature: str) -> bool:
        key = hash(signature)
        with self._lock:
            return any(key in bucket for bucket in self._buckets.values())

    def remember(self, signature: str, until: float | None = None) -> None:
        """Keep ``signature`` until ``until`` (wall-clock seconds; default: twice the window)."""
        now = self._clock()
        expires = now + 2 * self.window if until is None else until
        if expires <= now:
            return  # its request can no longer be accepted: nothing to remember
        slot = int(expires // self.BUCKET_SECONDS) + 1
        with self._lock:
            if now >= self._next_sweep:
                for old in [s for s in self._buckets if s * self.BUCKET_SECONDS <= now]:
                    del self._buckets[old]
                self._next_sweep = now + self.BUCKET_SECONDS
            self._buckets.setdefault(slot, set()).add(hash(signature))


class Authenticator:
    """Verifies a request's credentials and applies the per-key throttle."""

    def __init__(self, keyring: KeyRing, settings: ServerSettings) -> None:
        self.keyring = keyring
        self.settings = settings
        self.throttle = Throttle(settings.throttle_rate, settings.throttle_burst)
        self.replays = ReplayGuard(settings.clock_skew_seconds)

    def authenticate(
        self, request: sigv4.SignedRequest, *, now: datetime, services: frozenset[str] | None
    ) -> Principal:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            principal = self._bearer(header[7:].strip())
        elif header.startswith(sigv4.ALGORITHM) or not header:
            principal = self._sigv4(request, now=now, services=services)
        else:
            raise AuthError(
                403,
                "IncompleteSignatureException",
                "Authorization must be 'Bearer ACCESS_KEY_ID.SECRET' or an AWS4-HMAC-SHA256 "
                "signature",
            )
        if not self.throttle.allow(principal.key_id):
            raise AuthError(
                429,
                "TooManyRequestsException",
                f"Too many requests: access key {principal.key_id} is limited to "
                f"{self.settings.throttle_rate:g} requests per second",
            )
        return principal

    def uncached_key(self, request: sigv4.SignedRequest) -> str | None:
        """The access key id the request names, when its record is not cached (else None).

        Lets an async caller fetch the key in a worker thread, so that :meth:`authenticate`
        then runs on the event loop without reaching the store.
        """
        header = request.headers.get("authorization", "")
        key_id: str | None
        if header[:7].lower() == "bearer ":
            key_id = header[7:].strip().partition(".")[0]
        else:
            key_id = sigv4.credential_key_id(header)
        if not key_id or self.keyring.is_cached(key_id):
            return None
        return key_id

    def settle(self, principal: Principal, method: str, status: int) -> None:
        """After a response: remember the signature of a processed state-changing request."""
        if (
            principal.signature is not None
            and method not in SAFE_METHODS
            and status < 500
            and status != 429
        ):
            self.replays.remember(principal.signature, principal.signature_expires)

    def _bearer(self, token: str) -> Principal:
        key_id, _, secret = token.partition(".")
        key = self.keyring.lookup(key_id) if key_id and secret else None
        if key is None or not secret_matches(secret, key.secret_hash):
            raise AuthError(
                401, "UnrecognizedClientException", "the bearer token is not an active API key"
            )
        return Principal(key_id=key.id, app_id=key.app_id)

    def _sigv4(
        self, request: sigv4.SignedRequest, *, now: datetime, services: frozenset[str] | None
    ) -> Principal:
        try:
            verified = sigv4.verify(
                request,
                lookup=self.keyring.lookup,
                now=now,
                max_skew_seconds=self.settings.clock_skew_seconds,
                services=services,
            )
        except sigv4.SignatureError as exc:
            raise AuthError(403, exc.code, exc.message) from exc
        if request.method not in SAFE_METHODS and self.replays.seen(verified.signature):
            raise AuthError(
                403,
                "InvalidSignatureException",
                "this signed request was already processed; sign each request anew",
            )
        return Principal(
            key_id=verified.key.id,
            app_id=verified.key.app_id,
            signature=verified.signature,
            signature_expires=verified.signed_at.timestamp() + self.settings.clock_skew_seconds,
        )
