"""SigV4's short path renders the canonical request exactly as botocore's signer does, and
requests botocore signs verify on it without falling back to botocore."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from renraku.api import sigv4
from renraku.api.keyring import ActiveKey
from renraku.api.sigv4 import SignedRequest, canonical_request, signing_key, verify

KEY = ActiveKey(id="RKIACANONICAL0000000", app_id="app1", secret="k/ey+Secret=", secret_hash="")
HOST = "127.0.0.1:8080"

segments = st.text(min_size=1, max_size=12).map(lambda t: quote(t, safe="~-._"))
paths = st.lists(segments, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts))
query_pairs = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=6).map(lambda t: quote(t, safe="-_.~")),
        st.text(max_size=6).map(lambda t: quote(t, safe="-_.~")),
    ),
    max_size=4,
)
header_values = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=20
).filter(lambda v: v.strip())


def _botocore_signed(
    method: str, path: str, query: str, body: bytes, extra: dict[str, str]
) -> SignedRequest:
    url = f"http://{HOST}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(extra))
    SigV4Auth(Credentials(KEY.id, KEY.secret), "mobiletargeting", "us-east-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = HOST
    return SignedRequest(method, path, query, headers, body)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE"]),
    path=paths,
    pairs=query_pairs,
    body=st.binary(max_size=64),
    value=header_values,
)
def test_the_canonical_request_is_botocores_for_any_path_query_header_and_body(
    method: str, path: str, pairs: list[tuple[str, str]], body: bytes, value: str
) -> None:
    query = "&".join(f"{k}={v}" for k, v in pairs)
    extra = {"Content-Type": "application/json", "X-Custom": value, "User-Agent": "Boto3/1"}
    request = _botocore_signed(method, path, query, body, extra)
    names = ["content-type", "host", "x-amz-date", "x-custom", "user-agent"]
    url = f"http://{HOST}{path}" + (f"?{query}" if query else "")
    rebuilt = AWSRequest(
        method=method, url=url, headers={n: request.headers[n] for n in names}, data=body
    )
    rebuilt.context["timestamp"] = request.headers["x-amz-date"]
    signer = SigV4Auth(Credentials(KEY.id, KEY.secret), "mobiletargeting", "us-east-1")
    assert canonical_request(request, names) == signer.canonical_request(rebuilt)


@settings(max_examples=100, deadline=None)
@given(path=paths, pairs=query_pairs, body=st.binary(max_size=64))
def test_requests_signed_by_botocore_verify_without_falling_back(
    path: str, pairs: list[tuple[str, str]], body: bytes
) -> None:
    query = "&".join(f"{k}={v}" for k, v in pairs)
    request = _botocore_signed("PUT", path, query, body, {"Content-Type": "application/json"})
    fallback = sigv4._botocore_signature
    sigv4._botocore_signature = _no_fallback  # type: ignore[assignment]
    try:
        verified = verify(
            request, lookup=lambda _: KEY, now=datetime.now(UTC), max_skew_seconds=300
        )
    finally:
        sigv4._botocore_signature = fallback
    assert verified.key is KEY


def _no_fallback(*_: object) -> str:
    raise AssertionError("the short path should have matched botocore's signature")


def test_a_signature_the_short_path_renders_differently_is_still_judged_by_botocore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = _botocore_signed("PUT", "/v1/apps/a/endpoints/e", "", b"{}", {})
    monkeypatch.setattr(sigv4, "canonical_request", lambda *_: "something else")
    verified = verify(request, lookup=lambda _: KEY, now=datetime.now(UTC), max_skew_seconds=300)
    assert verified.key is KEY


def test_the_keyed_hash_is_hmac_sha256() -> None:
    key = signing_key("secret", "20261126", "us-east-1", "mobiletargeting")
    for message in (b"", b"x" * 63, b"y" * 64, b"z" * 1000):
        assert sigv4._KeyedHash(key).sign(message) == hmac.new(key, message, "sha256").hexdigest()


def test_the_signing_key_is_derived_once_per_secret_day_region_and_service() -> None:
    signing_key.cache_clear()
    first = signing_key("secret", "20261126", "us-east-1", "mobiletargeting")
    again = signing_key("secret", "20261126", "us-east-1", "mobiletargeting")
    other_day = signing_key("secret", "20261127", "us-east-1", "mobiletargeting")
    assert first is again
    assert first != other_day
    assert signing_key.cache_info().hits == 1
