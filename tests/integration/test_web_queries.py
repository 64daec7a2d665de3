"""The dashboard's read queries on SQLite and PostgreSQL: people search, unsaved filter counts
(equal to the saved segment's), sends per hour, dashboard users and sessions."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from journey_helpers import journey_app, seed_customers, voice_seed_journey

from renraku.domain.segments import parse_filter
from renraku.engine.worker import Worker
from renraku.errors import Conflict, InvalidInput
from renraku.services import journeys
from renraku.services import segments as segment_service
from renraku.store import dashboard_queries
from renraku.web import sessions


def test_people_are_found_by_exact_or_partial_user_id_phone_or_email(migrated_db_url: str) -> None:
    app = journey_app(migrated_db_url)
    try:
        app_id, _ = seed_customers(app, 12)
        with app.store.connect() as conn:

            def found(q: str) -> set[str]:
                return {e.id for e in dashboard_queries.search_people(conn, app_id, q)}

            assert found("User12") >= {"User12-VOICE", "User12-SMS", "User12-EMAIL"}
            assert found("+819000000003") == {"User3-VOICE", "User3-SMS"}
            assert found("U7@EXAMPLE.COM") == {"User7-EMAIL"}
            assert found("user1") == {f"User{i}-{c}" for i in (1, 10, 11, 12)
                                      for c in ("VOICE", "SMS", "EMAIL")}  # fmt: skip
            assert found("100%_") == set()  # LIKE wildcards are taken literally
            assert found("   ") == set()
            limited = dashboard_queries.search_people(conn, app_id, "example.com", limit=5)
            assert len(limited) == 5
    finally:
        app.close()


@pytest.mark.parametrize(
    "where",
    [
        "ChannelType = EMAIL and Attributes.CallStatus = PENDING",
        "ChannelType in (SMS, EMAIL)",
        "not ChannelType = VOICE",
    ],
)
def test_an_unsaved_filter_counts_what_the_same_saved_segment_counts(
    migrated_db_url: str, where: str
) -> None:
    app = journey_app(migrated_db_url)
    try:
        app_id, _ = seed_customers(app, 7)
        saved = segment_service.create(app, app_id, "same", where=where)
        with app.store.connect() as conn:
            draft = dashboard_queries.draft_counts(
                conn, app_id, parse_filter(where), now=app.clock.now()
            )
            rows = dashboard_queries.draft_preview(
                conn, app_id, parse_filter(where), now=app.clock.now(), limit=3
            )
        assert draft == segment_service.count(app, app_id, saved["Id"])
        preview = segment_service.preview(app, app_id, saved["Id"], limit=3)
        assert [e.id for e in rows] == [p["Id"] for p in preview]
    finally:
        app.close()


def test_sends_are_counted_per_hour_and_channel(migrated_db_url: str) -> None:
    app = journey_app(migrated_db_url)
    try:
        app_id, _ = seed_customers(app, 3)
        created = journeys.create(app, app_id, voice_seed_journey())
        journeys.publish(app, app_id, created["Id"])
        Worker(app).run_for(timedelta(days=1))
        with app.store.connect() as conn:
            rows = dashboard_queries.sends_by_hour(conn, app_id, created["Id"])
        assert rows == [
            ("2026-03-05T01", "VOICE", 3),
            ("2026-03-05T02", "SMS", 3),
            ("2026-03-05T03", "EMAIL", 3),
        ]
    finally:
        app.close()


def test_dashboard_users_are_unique_checked_and_their_sessions_end_with_them(
    migrated_db_url: str,
) -> None:
    app = journey_app(migrated_db_url)
    try:
        sessions.create_user(app, "ops@example.jp", "a long password")
        with pytest.raises(Conflict):
            sessions.create_user(app, "ops@example.jp", "another password")
        with pytest.raises(InvalidInput) as bad:
            sessions.create_user(app, "spaces not allowed", "short")
        assert {p.path for p in bad.value.problems} == {"NAME", "password"}
        manager = sessions.Sessions(app, hours=1)
        assert manager.login("ops@example.jp", "wrong password") is None
        result = manager.login("ops@example.jp", "a long password")
        assert result is not None
        token, session = result
        assert manager.current(token) == session
        assert manager.current(token + "x") is None
        brief = sessions.Sessions(app, hours=0.5 / 3600)  # half a second
        short = brief.login("ops@example.jp", "a long password")
        assert short is not None
        time.sleep(0.6)
        assert brief.current(short[0]) is None  # expired
        from renraku.store import dashboard_users

        with app.store.begin() as conn:
            dashboard_users.delete_user(conn, "ops@example.jp")
        assert manager.current(token) is None
    finally:
        app.close()
