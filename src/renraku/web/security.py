"""Passwords, session tokens and CSRF tokens (pure functions over hashlib, hmac and secrets).

Password hashes are ``scrypt$N$r$p$SALT$HASH`` (salt and hash in url-safe base64), so the cost can
be raised later while old hashes still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES, maxmem=2**26
    )


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be used, or None."""
    if len(password) < MIN_PASSWORD:
        return f"at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"at most {MAX_PASSWORD} characters"
    return None


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash of ``password`` (a fresh random salt unless one is given)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        got = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# Verified against when a name is unknown, so a wrong name costs as long as a wrong password.
DECOY_HASH = hash_password("decoy password", salt=b"\0" * SALT_BYTES)


def new_token() -> str:
    """A random url-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the store keeps of a session token."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time check of a submitted CSRF token; missing on either side never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


class LoginThrottle:
    """Failed logins per key (the login name) in a sliding window; past ``limit`` failures the
    key is refused until the oldest failure leaves the window. Kept per server process."""

    def __init__(self, limit: int = 10, window_seconds: float = 900.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, list[float]] = {}

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(key, []) if now - t < self.window]
        if kept:
            self._failures[key] = kept
        else:
            self._failures.pop(key, None)
        return kept

    def wait_seconds(self, key: str, now: float) -> float:
        """0 when ``key`` may try now, else how long until it may."""
        recent = self._recent(key, now)
        if len(recent) < self.limit:
            return 0.0
        return recent[-self.limit] + self.window - now

    def failed(self, key: str, now: float) -> None:
        self._recent(key, now)
        self._failures.setdefault(key, []).append(now)
        if len(self._failures) > 10_000:  # bound memory under a spray of names
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
