"""Verification of AWS Signature Version 4 (header form), the way AWS services check it.

The expected signature is computed by botocore's own signer (:class:`botocore.auth.SigV4Auth`)
over the request as received: the raw (still percent-encoded) path, the query string, the headers
named in ``SignedHeaders`` and the SHA-256 of the body. Nothing of the algorithm is re-implemented.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from renraku.api.keyring import ActiveKey

ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_UNSIGNED = {"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}


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


def _parse_amz_date(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise SignatureError(
            "IncompleteSignatureException",
            f"X-Amz-Date {value!r} is not in the form YYYYMMDD'T'HHMMSS'Z'",
        ) from exc


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
    expected = signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return Verified(key=key, signature=match["signature"], region=region, service=service)
