"""Verification of AWS Signature Version 4 (header form), the way AWS services check it.

The expected signature is computed over the request as received: the raw (still
percent-encoded) path, the query string, the headers named in ``SignedHeaders`` and the SHA-256 of
the body. :func:`canonical_request` builds the canonical request with botocore's own rules (its
path normalisation and quoting, query ordering, header trimming and excluded headers) without
building a botocore request object, and the signing key of each (secret, date, region, service) is
derived once and kept. When that signature does not match, botocore's signer
(:class:`botocore.auth.SigV4Auth`) recomputes it over a rebuilt request before the request is
refused, so an unusual request that the short path renders differently is still judged by
botocore itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import quote

from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import normalize_url_path

from renraku.api.keyring import ActiveKey

ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_CREDENTIAL_KEY_RE = re.compile(r"Credential=([^/,\s]+)/")
_UNSIGNED = {"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}
_EXCLUDED = frozenset(SIGNED_HEADERS_BLACKLIST)


class SignatureError(Exception):
    """A request whose signature cannot be accepted; ``code`` is the AWS error type."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a SigV4 check needs from an HTTP request, exactly as it arrived."""

    method: str
    raw_path: str
    query_string: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes


@dataclass(frozen=True, slots=True)
class Verified:
    key: ActiveKey
    signature: str
    region: str
    service: str
    signed_at: datetime


_AMZ_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")


def _parse_amz_date(value: str) -> datetime:
    match = _AMZ_DATE_RE.match(value)
    try:
        if match is None:
            raise ValueError(value)
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise SignatureError(
            "IncompleteSignatureException",
            f"X-Amz-Date {value!r} is not in the form YYYYMMDD'T'HHMMSS'Z'",
        ) from exc


def credential_key_id(header: str) -> str | None:
    """The access key id in a SigV4 ``Authorization`` header's Credential, if it has one."""
    match = _CREDENTIAL_KEY_RE.search(header)
    return None if match is None else match[1]


def verify(
    request: SignedRequest,
    *,
    lookup: Callable[[str], ActiveKey | None],
    now: datetime,
    max_skew_seconds: int,
    services: frozenset[str] | None = None,
) -> Verified:
    """Check ``request``'s SigV4 signature; raise :class:`SignatureError` saying what is wrong."""
    header = request.headers.get("authorization")
    if not header:
        raise SignatureError(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token: sign the request with SigV4 using a renraku access key",
        )
    match = _AUTH_RE.match(header.strip())
    if match is None:
        raise SignatureError(
            "IncompleteSignatureException",
            f"Authorization header requires {ALGORITHM} with Credential, SignedHeaders and "
            "Signature",
        )
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureError(
            "IncompleteSignatureException",
            "Credential must be ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request",
        )
    key_id, scope_date, region, service, _ = parts
    if services is not None and service not in services:
        raise SignatureError(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid service: {service!r} is not one of "
            f"{sorted(services)}",
        )
    signed_names = match["signed"].split(";")
    if "host" not in signed_names:
        raise SignatureError("InvalidSignatureException", "SignedHeaders must include host")
    amz_date = request.headers.get("x-amz-date")
    if not amz_date or "x-amz-date" not in signed_names:
        raise SignatureError(
            "IncompleteSignatureException", "the signed header X-Amz-Date is required"
        )
    when = _parse_amz_date(amz_date)
    skew = abs((now - when).total_seconds())
    if skew > max_skew_seconds:
        raise SignatureError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is more than {max_skew_seconds} s from the server "
            f"time {now.strftime('%Y%m%dT%H%M%SZ')}",
        )
    if scope_date != amz_date[:8]:
        raise SignatureError(
            "InvalidSignatureException",
            f"Credential date {scope_date} does not match X-Amz-Date {amz_date}",
        )
    missing = [n for n in signed_names if n not in request.headers]
    if missing:
        raise SignatureError(
            "InvalidSignatureException", f"signed headers missing from the request: {missing}"
        )
    claimed_hash = request.headers.get("x-amz-content-sha256")
    if claimed_hash is not None and (
        claimed_hash in _UNSIGNED or claimed_hash != hashlib.sha256(request.body).hexdigest()
    ):
        raise SignatureError(
            "InvalidSignatureException", "X-Amz-Content-SHA256 does not match the request body"
        )
    key = lookup(key_id)
    if key is None:
        raise SignatureError(
            "UnrecognizedClientException",
            f"The security token included in the request is invalid: no active access key "
            f"{key_id!r}",
        )
    scope = f"{scope_date}/{region}/{service}/aws4_request"
    canonical = canonical_request(request, signed_names)
    to_sign = "\n".join(
        (ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    expected = _keyed(key.secret, scope_date, region, service).sign(to_sign.encode())
    if not hmac.compare_digest(expected, match["signature"]) and not hmac.compare_digest(
        _botocore_signature(request, signed_names, key, amz_date, region, service),
        match["signature"],
    ):
        raise SignatureError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return Verified(
        key=key, signature=match["signature"], region=region, service=service, signed_at=when
    )


@lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key (four chained HMACs), kept per secret, day, region and service."""
    key = hmac.digest(f"AWS4{secret}".encode(), date.encode(), "sha256")
    for part in (region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


class _KeyedHash:
    """HMAC-SHA256 under one key with its padded key blocks hashed once (RFC 2104)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        block = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def sign(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


@lru_cache(maxsize=1024)
def _keyed(secret: str, date: str, region: str, service: str) -> _KeyedHash:
    return _KeyedHash(signing_key(secret, date, region, service))


def canonical_request(request: SignedRequest, signed_names: Sequence[str]) -> str:
    """The canonical request exactly as :meth:`botocore.auth.SigV4Auth.canonical_request` makes it.

    The parts follow botocore: the path normalised and quoted (``safe='/~'``, so an encoded
    ``%`` is encoded again, as AWS services other than S3 sign it), query pairs sorted as
    given, only the signed headers that botocore does not exclude, values trimmed, and the
    ``X-Amz-Content-SHA256`` value (when signed) or the body's SHA-256 as the payload hash.
    """
    names = sorted({n for n in signed_names if n not in _EXCLUDED} | {"host"})
    query = ""
    if request.query_string:
        pairs = sorted(pair.partition("=")[::2] for pair in request.query_string.split("&"))
        query = "&".join(f"{k}={v}" for k, v in pairs)
    headers = "".join(f"{n}:{' '.join(request.headers[n].split())}\n" for n in names)
    payload = (
        request.headers["x-amz-content-sha256"]
        if "x-amz-content-sha256" in names
        else hashlib.sha256(request.body).hexdigest()
    )
    path = quote(normalize_url_path(request.raw_path), safe="/~")
    return "\n".join((request.method.upper(), path, query, headers, ";".join(names), payload))


def _botocore_signature(
    request: SignedRequest,
    signed_names: Sequence[str],
    key: ActiveKey,
    amz_date: str,
    region: str,
    service: str,
) -> str:
    """The signature botocore's signer computes over the request rebuilt from what arrived."""
    url = f"http://{request.headers['host']}{request.raw_path}"
    if request.query_string:
        url += "?" + request.query_string
    rebuilt = AWSRequest(
        method=request.method,
        url=url,
        headers={name: request.headers[name] for name in signed_names},
        data=request.body,
    )
    rebuilt.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(key.id, key.secret), service, region)
    canonical = signer.canonical_request(rebuilt)
    return str(signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt))
