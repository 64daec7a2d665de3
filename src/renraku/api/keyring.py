"""API keys as use cases: create (secret shown once), list, revoke, and look up for verification.

SigV4 needs the plain secret to recompute a signature, so the secret is stored encrypted (Fernet,
AES-128-CBC + HMAC-SHA256) under the server's master key; bearer tokens are checked against a
SHA-256 hash, so the native API never decrypts anything.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import make_url

from renraku.app import App
from renraku.errors import ConfigError, NotFound
from renraku.settings import Settings
from renraku.store import api_keys as key_store
from renraku.store import apps as app_store
from renraku.store.engine import normalise_url

MASTER_KEY_FILE = "renraku-master.key"


def master_key_path(settings: Settings) -> Path:
    """Where the generated master key lives when none is configured."""
    if settings.server.master_key_file:
        return Path(settings.server.master_key_file)
    url = make_url(normalise_url(settings.db))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).with_name(Path(url.database).name + ".master-key")
    return Path(MASTER_KEY_FILE)


def load_master_key(settings: Settings, *, create: bool = True) -> Fernet:
    """The Fernet built from ``[server] master_key``, or from the key file (created if missing)."""
    configured = settings.server.master_key
    if configured is not None:
        raw = configured.get_secret_value().encode()
        where = "server.master_key"
    else:
        path = master_key_path(settings)
        if not path.exists():
            if not create:
                raise ConfigError(f"no master key: set server.master_key or create {path}")
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: two processes starting at once must not each write a different key.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(Fernet.generate_key() + b"\n")
        raw = path.read_bytes().strip()
        where = str(path)
    try:
        return Fernet(raw)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{where}: the master key must be 32 url-safe base64-encoded bytes "
            "(make one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)"
        ) from exc


def create_key(
    app: App, app_key: str | None, *, description: str = "", admin: bool = False
) -> dict[str, Any]:
    """Create a key for application ``app_key`` (id or name), or an administrator key.

    Returns ``AccessKeyId`` and ``SecretAccessKey``; the secret cannot be read again later.
    """
    fernet = load_master_key(app.settings)
    key_id, secret = key_store.new_key_pair()
    with app.store.begin() as conn:
        app_id = None if admin else str(app_store.resolve_app(conn, app_key)["Id"])
        stored = key_store.insert_key(
            conn,
            key_id=key_id,
            app_id=app_id,
            description=description,
            secret_hash=key_store.hash_secret(secret),
            secret_encrypted=fernet.encrypt(secret.encode()).decode(),
            now=app.now_iso(),
        )
    return {**stored.public(), "SecretAccessKey": secret}


def list_keys(app: App, app_id: str | None = None) -> list[dict[str, Any]]:
    with app.store.connect() as conn:
        return [k.public() for k in key_store.list_keys(conn, app_id)]


def revoke_key(app: App, key_id: str) -> dict[str, Any]:
    with app.store.begin() as conn:
        return key_store.revoke(conn, key_id, now=app.now_iso()).public()


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """A key that may be used now: its application (None for an administrator) and secret."""

    id: str
    app_id: str | None
    secret: str
    secret_hash: str


class KeyRing:
    """Looks keys up for request verification, caching each for ``key_cache_seconds``.

    The cache bounds how long a revoked key keeps working; it also keeps decryption off the hot path.
    """

    def __init__(self, app: App) -> None:
        self._app = app
        self._fernet = load_master_key(app.settings)
        self._ttl = app.settings.server.key_cache_seconds
        self._cache: dict[str, tuple[float, ActiveKey | None]] = {}
        self._lock = threading.Lock()

    def is_cached(self, key_id: str) -> bool:
        """Whether :meth:`lookup` would answer ``key_id`` without reading the store."""
        hit = self._cache.get(key_id)
        return hit is not None and hit[0] > time.monotonic()

    def lookup(self, key_id: str) -> ActiveKey | None:
        """The active key ``key_id``, or None when it is unknown or revoked."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._app.store.connect() as conn:
            stored = key_store.find(conn, key_id)
        found: ActiveKey | None = None
        if stored is not None and stored.active:
            try:
                secret = self._fernet.decrypt(stored.secret_encrypted.encode()).decode()
            except InvalidToken as exc:
                raise ConfigError(
                    f"access key {key_id}: its secret cannot be decrypted with this master key"
                ) from exc
            found = ActiveKey(stored.id, stored.app_id, secret, stored.secret_hash)
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key_id] = (now + self._ttl, found)
        return found

    def require(self, key_id: str) -> ActiveKey:
        found = self.lookup(key_id)
        if found is None:
            raise NotFound("access key", key_id)
        return found
