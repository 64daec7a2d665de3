"""Unsubscribe links (RFC 8058 one-click): a per-endpoint token signed with the application secret."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote


def token(secret: str, app_id: str, endpoint_id: str) -> str:
    """The token that proves a link was made by renraku for this endpoint."""
    mac = hmac.new(secret.encode(), f"unsubscribe\x1f{app_id}\x1f{endpoint_id}".encode(), "sha256")
    return mac.hexdigest()[:40]


def verify(secret: str, app_id: str, endpoint_id: str, given: str) -> bool:
    return hmac.compare_digest(token(secret, app_id, endpoint_id), given)


def url(public_url: str, secret: str, app_id: str, endpoint_id: str) -> str:
    """``{public_url}/hooks/unsubscribe/{app}/{endpoint}?t={token}``: GET confirms, POST opts out."""
    base = public_url.rstrip("/")
    return (
        f"{base}/hooks/unsubscribe/{quote(app_id, safe='')}/{quote(endpoint_id, safe='')}"
        f"?t={token(secret, app_id, endpoint_id)}"
    )


def body_hash(secret: str, body: bytes) -> str:
    """HMAC-SHA256 of a webhook body, as sent in ``X-Renraku-Signature: sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
