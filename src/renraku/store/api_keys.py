"""API keys: an access key id, a secret kept encrypted (SigV4) and hashed (bearer tokens).

A key belongs to one application, or to none (an administrator key, which may create and list
applications). The plain secret is returned once, at creation, and never stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    insert,
    select,
    update,
)

from renraku.errors import Conflict, NotFound
from renraku.store.schema import metadata

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(64)),  # NULL: administrator key
    Column("description", String(256), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("secret_encrypted", String(512), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
    ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    Index("ix_api_keys_app", "app_id"),
)

KEY_ID_PREFIX = "RKIA"


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One key as stored (the secret still encrypted)."""

    id: str
    app_id: str | None
    description: str
    secret_hash: str
    secret_encrypted: str
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public(self) -> dict[str, Any]:
        """What listing shows: never the secret."""
        return {
            "AccessKeyId": self.id,
            "ApplicationId": self.app_id,
            "Description": self.description,
            "CreatedAt": self.created_at,
            "RevokedAt": self.revoked_at,
            "Status": "Active" if self.active else "Revoked",
        }


def hash_secret(secret: str) -> str:
    """SHA-256 of a secret: secrets are 240 random bits, so no slow hash is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def new_key_pair() -> tuple[str, str]:
    """A fresh (access key id, secret access key), shaped like AWS's (20 and 40 characters)."""
    key_id = KEY_ID_PREFIX + base64.b32encode(secrets.token_bytes(10)).decode()[:16]
    return key_id, secrets.token_urlsafe(30)


def _from_row(r: Any) -> StoredKey:
    return StoredKey(
        id=r.id,
        app_id=r.app_id,
        description=r.description,
        secret_hash=r.secret_hash,
        secret_encrypted=r.secret_encrypted,
        created_at=r.created_at,
        revoked_at=r.revoked_at,
    )


def insert_key(
    conn: Connection,
    *,
    key_id: str,
    app_id: str | None,
    description: str,
    secret_hash: str,
    secret_encrypted: str,
    now: str,
) -> StoredKey:
    if conn.execute(select(api_keys.c.id).where(api_keys.c.id == key_id)).first():
        raise Conflict(f"access key id {key_id!r} already exists")
    values = {
        "id": key_id,
        "app_id": app_id,
        "description": description,
        "secret_hash": secret_hash,
        "secret_encrypted": secret_encrypted,
        "created_at": now,
        "revoked_at": None,
    }
    conn.execute(insert(api_keys).values(**values))
    return StoredKey(**values)  # type: ignore[arg-type]


def find(conn: Connection, key_id: str) -> StoredKey | None:
    row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    return None if row is None else _from_row(row)


def list_keys(conn: Connection, app_id: str | None = None) -> list[StoredKey]:
    """Every key, or those of one application."""
    query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    if app_id is not None:
        query = query.where(api_keys.c.app_id == app_id)
    return [_from_row(r) for r in conn.execute(query)]


def revoke(conn: Connection, key_id: str, *, now: str) -> StoredKey:
    """Mark a key revoked (idempotent: a revoked key keeps its first revocation time)."""
    key = find(conn, key_id)
    if key is None:
        raise NotFound("access key", key_id)
    if key.revoked_at is None:
        conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now))
        key = find(conn, key_id)
        assert key is not None
    return key
