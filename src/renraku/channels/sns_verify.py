"""Verify Amazon SNS message signatures (SignatureVersion 1: SHA1, 2: SHA256, RSA PKCS#1 v1.5).

The signing certificate is fetched from ``SigningCertURL`` only when that URL is HTTPS on a host
matching ``webhooks.sns_certificate_hosts`` (default ``sns.*.amazonaws.com``), and cached.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


class SnsVerificationError(Exception):
    """The message is not provably from SNS; the text says why."""


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    keys = NOTIFICATION_KEYS if message.get("Type") == "Notification" else SUBSCRIPTION_KEYS
    lines: list[str] = []
    for key in keys:
        if key in message and message[key] is not None:
            lines += [key, str(message[key])]
    return ("\n".join(lines) + "\n").encode()


def host_allowed(url: str, patterns: list[str], *, allow_http: bool = False) -> bool:
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        return False
    host = parts.hostname or ""
    return any(fnmatch.fnmatch(host, p) for p in patterns)


class CertificateCache:
    """Fetches and caches signing certificates by URL."""

    def __init__(self, fetch: Callable[[str], bytes] | None = None) -> None:
        self._fetch = fetch or _http_get
        self._certs: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> x509.Certificate:
        with self._lock:
            cert = self._certs.get(url)
        if cert is None:
            try:
                cert = x509.load_pem_x509_certificate(self._fetch(url))
            except (httpx.HTTPError, ValueError) as exc:
                raise SnsVerificationError(f"cannot load signing certificate {url}: {exc}") from exc
            with self._lock:
                self._certs[url] = cert
        return cert


def _http_get(url: str) -> bytes:
    response = httpx.get(url, timeout=10.0)
    response.raise_for_status()
    return response.content


def verify(
    message: Mapping[str, Any],
    certificates: CertificateCache,
    patterns: list[str],
    *,
    allow_http: bool = False,
) -> None:
    """Raise SnsVerificationError unless ``message`` carries a valid SNS signature."""
    version = str(message.get("SignatureVersion", ""))
    algorithm: hashes.HashAlgorithm
    if version == "1":
        algorithm = hashes.SHA1()  # noqa: S303 (SNS SignatureVersion 1 is defined with SHA1)
    elif version == "2":
        algorithm = hashes.SHA256()
    else:
        raise SnsVerificationError(f"unsupported SignatureVersion {version!r}")
    cert_url = str(message.get("SigningCertURL") or message.get("SigningCertUrl") or "")
    if not host_allowed(cert_url, patterns, allow_http=allow_http):
        raise SnsVerificationError(f"signing certificate URL {cert_url!r} is not an SNS host")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SnsVerificationError("the signature is not base64") from exc
    key = certificates.get(cert_url).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsVerificationError("the signing certificate does not hold an RSA key")
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        raise SnsVerificationError("the signature does not match the message") from exc
