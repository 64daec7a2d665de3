"""POST a custom-channel event to a webhook: signed, bounded, retried, answer checked.

The body is Pinpoint's custom-channel event as JSON; ``X-Renraku-Signature: sha256=<hex>`` is the
HMAC-SHA256 of the exact body under the application's secret (``renraku`` keeps one per
application). ``X-Renraku-Signature-V2: t=<unix seconds>,id=<request id>,sha256=<hex>`` signs
``{t}.{id}.{body}`` instead, so a target can refuse a replay: a ``t`` outside its window (see
:func:`verify_v2`, five minutes by default), or an ``id`` it has seen (retries of one request keep
their id and get a fresh ``t``). Targets must be https, and must not resolve to private, loopback or link-local
addresses unless ``webhooks.allow_http`` / ``allow_private_targets`` say otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from renraku import __version__
from renraku.channels.config import WebhookSettings
from renraku.channels.policies import Backoff, ProviderError, with_retries
from renraku.channels.unsubscribe import body_hash

SIGNATURE_HEADER = "X-Renraku-Signature"
SIGNATURE_V2_HEADER = "X-Renraku-Signature-V2"
V2_WINDOW_SECONDS = 300


def sign_v2(secret: str, body: bytes, timestamp: int, request_id: str) -> str:
    """The ``X-Renraku-Signature-V2`` value of ``body`` sent at ``timestamp`` as ``request_id``."""
    signed = f"{timestamp}.{request_id}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},id={request_id},sha256={digest}"


def verify_v2(
    secret: str, header: str, body: bytes, now: float, window: float = V2_WINDOW_SECONDS
) -> tuple[int, str]:
    """For a webhook target: the (timestamp, request id) of a request whose V2 signature is valid
    and whose timestamp lies within ``window`` seconds of ``now``; ValueError saying why not.
    The caller refuses an id it has already handled within the window."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp, request_id, given = int(fields["t"]), fields["id"], fields["sha256"]
    except (KeyError, ValueError) as exc:
        raise ValueError("the signature header needs t=, id= and sha256=") from exc
    expected = sign_v2(secret, body, timestamp, request_id).rsplit("=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise ValueError("the signature does not match the body, time and id")
    if abs(now - timestamp) > window:
        raise ValueError(f"the request was signed {now - timestamp:+.0f} s from now: a replay")
    return timestamp, request_id


def check_target(url: str, settings: WebhookSettings) -> None:
    """ProviderError(permanent) when ``url`` is not an allowed webhook target."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ProviderError(f"DeliveryUri {url!r} is not an http(s) URL", permanent=True)
    if parts.scheme == "http" and not settings.allow_http:
        raise ProviderError(
            f"DeliveryUri {url!r} is plain http; use https or set webhooks.allow_http",
            permanent=True,
        )
    if settings.allow_private_targets:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise ProviderError(f"cannot resolve {parts.hostname}: {exc}", permanent=False) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_reserved
            or address.is_multicast
            or address.is_unspecified
        ):
            raise ProviderError(
                f"DeliveryUri host {parts.hostname} resolves to {address}, a private or local "
                "address; set webhooks.allow_private_targets to allow it",
                permanent=True,
            )


def post_event(
    url: str,
    event: dict[str, Any],
    secret: str,
    settings: WebhookSettings,
    backoff: Backoff,
    sleep: Callable[[float], None],
    *,
    client: httpx.Client | None = None,
    request_id: str | None = None,
    wall: Callable[[], float] = time.time,
) -> tuple[Any, int]:
    """POST ``event``; returns the parsed JSON answer (None if empty) and the attempts used.
    Every attempt carries ``request_id`` (a new one when None) and is signed at ``wall()``."""
    check_target(url, settings)
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    request_id = request_id or str(uuid.uuid4())
    base_headers = {
        "Content-Type": "application/json",
        "User-Agent": f"renraku/{__version__}",
        SIGNATURE_HEADER: body_hash(secret, body),
    }
    own = client is None
    http = client or httpx.Client(timeout=settings.timeout_seconds, follow_redirects=False)

    def attempt() -> bytes:
        headers = {
            **base_headers,
            SIGNATURE_V2_HEADER: sign_v2(secret, body, int(wall()), request_id),
        }
        try:
            with http.stream("POST", url, content=body, headers=headers) as response:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > settings.max_response_bytes:
                        raise ProviderError(
                            f"webhook answer exceeds {settings.max_response_bytes} bytes",
                            permanent=True,
                            code="AnswerTooLarge",
                        )
                    chunks.append(chunk)
                status = response.status_code
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"webhook timed out after {settings.timeout_seconds:g}s", permanent=False
            ) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"webhook unreachable: {exc}", permanent=False) from exc
        if status == 429 or status >= 500:
            raise ProviderError(
                f"webhook answered HTTP {status}", permanent=False, code=str(status)
            )
        if status >= 300:
            raise ProviderError(f"webhook answered HTTP {status}", permanent=True, code=str(status))
        return b"".join(chunks)

    retry_backoff = Backoff(
        backoff.settings.model_copy(update={"max_attempts": settings.max_attempts}), backoff.rng
    )
    try:
        raw, attempts = with_retries(attempt, retry_backoff, sleep)
    finally:
        if own:
            http.close()
    if not raw.strip():
        return None, attempts
    try:
        return json.loads(raw), attempts
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _Malformed("the answer is not JSON"), attempts


class _Malformed:
    def __init__(self, why: str) -> None:
        self.why = why


def event_attributes(
    answer: Any, endpoint_ids: list[str]
) -> tuple[dict[str, dict[str, str]], str | None]:
    """Per-endpoint EventAttributes from an answer, and why (part of) it was ignored, if it was."""
    if answer is None:
        return {}, None
    if isinstance(answer, _Malformed):
        return {}, answer.why
    if not isinstance(answer, dict):
        return {}, "the answer is not a JSON object keyed by endpoint id"
    out: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for endpoint_id, entry in answer.items():
        if endpoint_id not in endpoint_ids:
            problems.append(f"{endpoint_id!r} is not an endpoint of this batch")
            continue
        attrs = entry.get("EventAttributes") if isinstance(entry, dict) else None
        if not isinstance(attrs, dict):
            problems.append(f"{endpoint_id}: EventAttributes must be an object")
            continue
        out[endpoint_id] = {str(k): str(v) for k, v in attrs.items()}
    return out, "; ".join(problems) or None
