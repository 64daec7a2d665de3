"""Dashboard passwords (salted scrypt), session tokens and CSRF checks."""

from __future__ import annotations

from renraku.web.pages_auth import _safe_next as safe_next
from renraku.web.security import (
    LoginThrottle,
    csrf_matches,
    hash_password,
    new_token,
    password_problem,
    token_hash,
    verify_password,
)
from renraku.web.uploads import safe_filename


def test_a_password_verifies_against_its_own_hash_only() -> None:
    stored = hash_password("correct horse 連絡")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse 連絡", stored)
    assert not verify_password("correct horse", stored)
    assert not verify_password("", stored)


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("same password") != hash_password("same password")
    assert hash_password("pw", salt=b"s" * 16) == hash_password("pw", salt=b"s" * 16)


def test_malformed_or_foreign_hashes_never_verify() -> None:
    for stored in ("", "plain", "bcrypt$x$y$z$a$b", "scrypt$x$8$1$AAAA$AAAA", "scrypt$16384$8$1$"):
        assert not verify_password("anything", stored)


def test_password_rules_name_the_limit() -> None:
    assert password_problem("short") == "at least 8 characters"
    assert password_problem("x" * 2000) == "at most 1024 characters"
    assert password_problem("long enough") is None


def test_tokens_are_random_and_stored_only_as_hashes() -> None:
    a, b = new_token(), new_token()
    assert a != b
    assert len(a) >= 40
    assert token_hash(a) != a
    assert len(token_hash(a)) == 64
    assert token_hash(a) == token_hash(a)


def test_csrf_check_needs_both_tokens_equal() -> None:
    assert csrf_matches("abc", "abc")
    assert not csrf_matches("abc", "abd")
    assert not csrf_matches("abc", None)
    assert not csrf_matches(None, "abc")
    assert not csrf_matches("", "")


def test_an_uploaded_file_name_keeps_only_its_last_part_and_harmless_characters() -> None:
    assert safe_filename("顧客リスト.csv") == "顧客リスト.csv"
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\me\\list.csv") == "list.csv"
    assert safe_filename('a<b>:"|?*.csv') == "ab.csv"
    assert safe_filename("..") == "upload.csv"
    assert safe_filename("") == "upload.csv"


def test_after_login_only_a_dashboard_path_may_follow() -> None:
    assert safe_next("/ui/people?q=x") == "/ui/people?q=x"
    for target in ("//evil.example/ui/", "https://evil.example/", "/ui", "/api/v1", "/ui\\x", ""):
        assert safe_next(target) == "/ui/journeys", target


def test_a_name_is_refused_after_too_many_failures_until_they_leave_the_window() -> None:
    throttle = LoginThrottle(limit=3, window_seconds=60)
    for t in (0.0, 10.0, 20.0):
        assert throttle.wait_seconds("admin", t) == 0
        throttle.failed("admin", t)
    assert throttle.wait_seconds("admin", 30.0) == 30.0  # the first failure leaves at 60
    assert throttle.wait_seconds("other", 30.0) == 0
    assert throttle.wait_seconds("admin", 60.0) == 0


def test_a_successful_login_clears_the_failures() -> None:
    throttle = LoginThrottle(limit=2, window_seconds=60)
    throttle.failed("admin", 0.0)
    throttle.succeeded("admin")
    throttle.failed("admin", 1.0)
    assert throttle.wait_seconds("admin", 2.0) == 0
