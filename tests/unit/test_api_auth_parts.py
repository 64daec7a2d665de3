"""The pure parts of the API's authentication: SigV4 verification over a request as received,
the per-key token bucket, the replay memory and pagination tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from renraku.api.auth import ReplayGuard, Throttle
from renraku.api.aws.pinpoint.paging import decode_token, encode_token, paginate
from renraku.api.keyring import ActiveKey
from renraku.api.sigv4 import SignatureError, SignedRequest, verify
from renraku.errors import InvalidInput

KEY = ActiveKey(id="RKIATESTKEY000000000", app_id="app1", secret="s3cret/Value+x", secret_hash="")


def _lookup(key_id: str) -> ActiveKey | None:
    return KEY if key_id == KEY.id else None


def _signed(method: str, path: str, query: str = "", body: bytes = b"") -> SignedRequest:
    url = f"http://127.0.0.1:8080{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(KEY.id, KEY.secret), "mobiletargeting", "ap-northeast-1").add_auth(
        request
    )
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:8080"
    return SignedRequest(method, path, query, headers, body)


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_request_signed_by_botocore_verifies_including_encoded_paths_and_queries() -> None:
    request = _signed("GET", "/v1/apps/a1/users/User%201%2F%C3%A4", "page-size=2&token=abc")
    verified = verify(request, lookup=_lookup, now=_now(), max_skew_seconds=300)
    assert verified.key is KEY
    assert verified.region == "ap-northeast-1"
    assert verified.service == "mobiletargeting"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (
            lambda r: SignedRequest(r.method, r.raw_path, r.query_string, r.headers, b'{"x":2}'),
            "InvalidSignatureException",
        ),
        (
            lambda r: SignedRequest("PUT", r.raw_path, r.query_string, r.headers, r.body),
            "InvalidSignatureException",
        ),
        (
            lambda r: SignedRequest(r.method, r.raw_path + "x", r.query_string, r.headers, r.body),
            "InvalidSignatureException",
        ),
        (
            lambda r: SignedRequest(r.method, r.raw_path, "page-size=9", r.headers, r.body),
            "InvalidSignatureException",
        ),
        (
            lambda r: SignedRequest(
                r.method, r.raw_path, r.query_string, {**r.headers, "host": "evil:1"}, r.body
            ),
            "InvalidSignatureException",
        ),
        (
            lambda r: SignedRequest(
                r.method,
                r.raw_path,
                r.query_string,
                {k: v for k, v in r.headers.items() if k != "authorization"},
                r.body,
            ),
            "MissingAuthenticationTokenException",
        ),
        (
            lambda r: SignedRequest(
                r.method,
                r.raw_path,
                r.query_string,
                {**r.headers, "authorization": "AWS4-HMAC-SHA256 nonsense"},
                r.body,
            ),
            "IncompleteSignatureException",
        ),
    ],
)
def test_any_change_to_a_signed_request_is_refused(change: object, code: str) -> None:
    request = _signed("POST", "/v1/apps/a1/events", body=b'{"x":1}')
    with pytest.raises(SignatureError) as exc:
        verify(change(request), lookup=_lookup, now=_now(), max_skew_seconds=300)  # type: ignore[operator]
    assert exc.value.code == code


def test_unknown_keys_and_stale_or_future_dates_are_refused() -> None:
    request = _signed("GET", "/v1/apps")
    with pytest.raises(SignatureError) as exc:
        verify(request, lookup=lambda _k: None, now=_now(), max_skew_seconds=300)
    assert exc.value.code == "UnrecognizedClientException"
    for offset in (timedelta(minutes=6), timedelta(minutes=-6)):
        with pytest.raises(SignatureError) as exc:
            verify(request, lookup=_lookup, now=_now() + offset, max_skew_seconds=300)
        assert "expired" in exc.value.message


def test_the_credential_scope_must_name_an_accepted_service() -> None:
    request = _signed("GET", "/v1/apps")
    with pytest.raises(SignatureError) as exc:
        verify(
            request,
            lookup=_lookup,
            now=_now(),
            max_skew_seconds=300,
            services=frozenset({"connect"}),
        )
    assert "mobiletargeting" in exc.value.message


def test_the_token_bucket_allows_the_burst_then_the_rate() -> None:
    bucket = Throttle(rate=2.0, burst=3)
    assert [bucket.allow("k", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.allow("other", now=0.0)
    assert bucket.allow("k", now=0.5)
    assert not bucket.allow("k", now=0.5)


def test_the_replay_memory_remembers_signatures_it_was_given() -> None:
    guard = ReplayGuard(window_seconds=300)
    assert not guard.seen("sig")
    guard.remember("sig")
    assert guard.seen("sig")
    assert not guard.seen("other")


def test_the_replay_memory_forgets_signatures_once_their_requests_would_have_expired() -> None:
    now = [1_000_000.0]
    guard = ReplayGuard(window_seconds=300, clock=lambda: now[0])
    for n in range(1000):
        guard.remember(f"sig{n}", until=now[0] + 300)
    guard.remember("expired already", until=now[0] - 1)
    assert len(guard) == 1000
    assert guard.seen("sig999")
    assert not guard.seen("expired already")
    now[0] += 300 + ReplayGuard.BUCKET_SECONDS * 2
    guard.remember("fresh", until=now[0] + 300)
    # Steady load keeps a flat memory: only the fresh signature is left.
    assert len(guard) == 1
    assert guard.seen("fresh")
    assert not guard.seen("sig999")


def test_pagination_tokens_round_trip_and_forgeries_name_the_field() -> None:
    items = list(range(5))
    page, token = paginate(items, "2", None)
    assert page == [0, 1]
    assert token is not None
    assert decode_token(token) == 2
    page, token = paginate(items, "2", encode_token(4))
    assert (page, token) == ([4], None)
    for bad in ("garbage!", encode_token(0)[:-1] + "?", "eDo1", encode_token(3) + "x"):
        with pytest.raises(InvalidInput) as exc:
            decode_token(bad)
        assert exc.value.problems[0].path == "token"
    with pytest.raises(InvalidInput) as exc:
        paginate(items, "0", None)
    assert exc.value.problems[0].path == "page-size"


def test_every_pinpoint_operation_in_botocores_model_routes_to_itself() -> None:
    from renraku.api.aws.pinpoint.model import RequestError, pinpoint_model

    model = pinpoint_model()
    assert len(model.operations) > 100
    for op in model.operations.values():
        path = "/" + "/".join("id%20%2F1" if s.startswith("{") else s for s in op.template)
        routed, labels = model.match(op.method, path)
        assert routed.name == op.name
        assert all(value == "id /1" for value in labels.values())
    with pytest.raises(RequestError) as exc:
        model.match("PATCH", "/v1/apps")
    assert exc.value.status == 405
    with pytest.raises(RequestError) as exc:
        model.match("GET", "/v1/apps//endpoints/x")
    assert exc.value.status == 404
