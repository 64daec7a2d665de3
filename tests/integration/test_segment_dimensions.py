"""Every dimension type selects the right endpoints on SQLite and on PostgreSQL, in SQL and in the
Python evaluator alike; source segments, versions and the seed's dynamic segment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection

from renraku.domain.endpoints import Endpoint
from renraku.domain.segments import endpoint_matches, parse_filter
from renraku.domain.timefmt import iso
from renraku.store import Store
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store
from renraku.store.segment_sql import matching_endpoints, segment_counts

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def _ep(app_id: str, id_: str, channel: str, **fields: Any) -> Endpoint:
    return Endpoint(app_id=app_id, id=id_, channel_type=channel, address=f"{id_}@x",
                    creation_date=iso(NOW), **fields)  # fmt: skip


def _people(app_id: str) -> list[Endpoint]:
    return [
        _ep(app_id, "tokyo-email", "EMAIL", user_id="u1",
            attributes={"CallStatus": ["PENDING"], "Due": ["2026-11-20T09:00:00Z"]},
            user_attributes={"Plan": ["gold member"]},
            demographic={"Platform": "ios", "Make": "Apple", "AppVersion": "2.0"},
            location={"Country": "JP", "Latitude": 35.681, "Longitude": 139.767},
            metrics={"score": 9.0}, effective_date=iso(NOW - timedelta(hours=2))),
        _ep(app_id, "tokyo-sms", "SMS", user_id="u1",
            attributes={"CallStatus": ["Pending"], "Due": ["2026-12-01"]},
            user_attributes={"Plan": ["gold member"]},
            location={"Country": "JP", "Latitude": 35.681, "Longitude": 139.767},
            metrics={"score": 3.0}, effective_date=iso(NOW - timedelta(days=10))),
        _ep(app_id, "osaka-email", "EMAIL", user_id="u2",
            attributes={"CallStatus": ["CANCELED"], "Due": ["not a date"]},
            demographic={"Platform": "android", "Make": "Google"},
            location={"Country": "JP", "Latitude": 34.702, "Longitude": 135.495},
            metrics={"score": 5.0}, effective_date=iso(NOW - timedelta(days=40))),
        _ep(app_id, "nyc-voice", "VOICE",
            attributes={"CallStatus": ["PENDING", "RETRY"]},
            location={"Country": "US", "Latitude": 40.71, "Longitude": -74.0}),
    ]  # fmt: skip


@pytest.fixture
def app(store: Store) -> tuple[Store, str]:
    with store.begin() as conn:
        app_id = str(app_store.create_app(conn, "dims", now=iso(NOW))["Id"])
        endpoint_store.upsert_many(conn, _people(app_id))
    return store, app_id


def _select(conn: Connection, app_id: str, text: str) -> set[str]:
    """Ids selected by SQL, after checking the Python evaluator and the counts agree."""
    defn = parse_filter(text)
    name = f"s{abs(hash(text))}"
    segment_store.create_dimensional(
        conn, app_id, name=name, definition=defn.to_json(), tags={}, now=iso(NOW)
    )
    by_sql = {r.id for r in conn.execute(matching_endpoints(conn, app_id, name, now=NOW))}
    by_python = {ep.id for ep in _people(app_id) if endpoint_matches(defn, ep, now=NOW)}
    assert by_sql == by_python
    assert segment_counts(conn, app_id, name, now=NOW)["Count"] == len(by_sql)
    return by_sql


CASES = [
    ("ChannelType = EMAIL and Attributes.CallStatus = PENDING", {"tokyo-email"}),
    ("Attributes.CallStatus in (PENDING, Pending)", {"tokyo-email", "tokyo-sms", "nyc-voice"}),
    ("Attributes.CallStatus != PENDING", {"tokyo-sms", "osaka-email"}),
    ("Attributes.CallStatus not in (PENDING, CANCELED)", {"tokyo-sms"}),
    ("Attributes.CallStatus contains END", {"tokyo-email", "nyc-voice"}),
    ("Attributes.CallStatus contains (TRY, ance)", {"nyc-voice"}),
    ("Attributes.Nothing != x", {"tokyo-email", "tokyo-sms", "osaka-email", "nyc-voice"}),
    ("Attributes.Due before 2026-11-21", {"tokyo-email"}),
    ("Attributes.Due before 2026-11-20T23:00:00Z", set()),
    ("Attributes.Due after 2026-11-20", {"tokyo-sms"}),
    ("Attributes.Due on 2026-11-20T00:00:00+09:00", {"tokyo-email"}),
    ("Attributes.Due between 2026-11-01 and 2026-12-01", {"tokyo-email", "tokyo-sms"}),
    ("UserAttributes.Plan contains gold", {"tokyo-email", "tokyo-sms"}),
    ("UserAttributes.Plan = gold", set()),
    ("ChannelType in (SMS, VOICE)", {"tokyo-sms", "nyc-voice"}),
    ("ChannelType != EMAIL", {"tokyo-sms", "nyc-voice"}),
    ("Demographic.Platform = ios", {"tokyo-email"}),
    ("Demographic.Make not in (Apple)", {"tokyo-sms", "osaka-email", "nyc-voice"}),
    ("Demographic.AppVersion = 2.0", {"tokyo-email"}),
    ("Demographic.Model = x", set()),
    ("Demographic.DeviceType != phone", {"tokyo-email", "tokyo-sms", "osaka-email", "nyc-voice"}),
    ("Location.Country = US", {"nyc-voice"}),
    ("Location.Country != JP", {"nyc-voice"}),
    ("Location.GPSPoint within 10 km of (35.68, 139.76)", {"tokyo-email", "tokyo-sms"}),
    ("Location.GPSPoint within 410 km of (35.68, 139.76)", {"tokyo-email", "tokyo-sms",
                                                             "osaka-email"}),
    ("Location.GPSPoint within 300 km of (35.68, 139.76)", {"tokyo-email", "tokyo-sms"}),
    ("Metrics.score > 5", {"tokyo-email"}),
    ("Metrics.score >= 5", {"tokyo-email", "osaka-email"}),
    ("Metrics.score < 5", {"tokyo-sms"}),
    ("Metrics.score <= 3", {"tokyo-sms"}),
    ("Metrics.score = 5", {"osaka-email"}),
    ("Behavior.Recency active within HR_24", {"tokyo-email"}),
    ("Behavior.Recency active within DAY_14", {"tokyo-email", "tokyo-sms"}),
    ("Behavior.Recency inactive within DAY_30", {"osaka-email", "nyc-voice"}),
    # An attribute and ACTIVE recency in one block: read by a join of two narrow indexes.
    ("Attributes.CallStatus = PENDING and Behavior.Recency active within DAY_14",
     {"tokyo-email"}),
    ("[Attributes.CallStatus = Pending and Behavior.Recency active within DAY_14]"
     " or [Location.Country = US]", {"tokyo-sms", "nyc-voice"}),
    ("ChannelType = EMAIL or Metrics.score < 4", {"tokyo-email", "osaka-email", "tokyo-sms"}),
    ("not (ChannelType = EMAIL or Location.Country = US)", {"tokyo-sms"}),
    ("[ChannelType = EMAIL] and [Metrics.score > 6]", {"tokyo-email"}),
    ("[ChannelType = EMAIL] or [Location.Country = US]", {"tokyo-email", "osaka-email",
                                                         "nyc-voice"}),
    ("not ([ChannelType = EMAIL] or [Location.Country = US])", {"tokyo-sms"}),
]  # fmt: skip


def test_each_dimension_selects_the_same_endpoints_in_sql_and_python(
    app: tuple[Store, str],
) -> None:
    # One store per dialect for all cases: migrations are the slow part of a test.
    store, app_id = app
    wrong = {}
    with store.begin() as conn:
        for text, expected in CASES:
            got = _select(conn, app_id, text)
            if got != expected:
                wrong[text] = (sorted(got), sorted(expected))
    assert wrong == {}


def test_the_seed_segment_follows_call_status_changes(app: tuple[Store, str]) -> None:
    store, app_id = app
    seed = "ChannelType = EMAIL and Attributes.CallStatus = PENDING"
    with store.begin() as conn:
        assert _select(conn, app_id, seed) == {"tokyo-email"}
        ep = endpoint_store.get(conn, app_id, "tokyo-email")
        endpoint_store.upsert_many(
            conn, [Endpoint(**{**_fields(ep), "attributes": {"CallStatus": ["CANCELED"]}})]
        )
        rows = conn.execute(matching_endpoints(conn, app_id, _last(conn, app_id), now=NOW))
        assert {r.id for r in rows} == set()


def test_counts_give_endpoints_users_and_channels(app: tuple[Store, str]) -> None:
    store, app_id = app
    with store.begin() as conn:
        defn = parse_filter("Attributes.CallStatus in (PENDING, Pending)")
        segment_store.create_dimensional(
            conn, app_id, name="p", definition=defn.to_json(), tags={}, now=iso(NOW)
        )
        counts = segment_counts(conn, app_id, "p", now=NOW)
    # u1 has two endpoints; the VOICE endpoint has no user and counts as its own.
    assert counts == {"Count": 3, "Users": 2, "ByChannel": {"EMAIL": 1, "SMS": 1, "VOICE": 1}}


def test_source_segments_imported_and_dimensional_with_pinned_versions(
    app: tuple[Store, str],
) -> None:
    store, app_id = app
    with store.begin() as conn:
        imported = segment_store.import_segment_for(
            conn, app_id, "list", now=iso(NOW), import_definition={}
        )
        segment_store.add_members(conn, app_id, imported, ["tokyo-sms", "osaka-email"])
        emails = segment_store.create_dimensional(
            conn, app_id, name="emails", definition=parse_filter("ChannelType = EMAIL").to_json(),
            tags={}, now=iso(NOW),
        )  # fmt: skip
        segment_store.update_definition(
            conn,
            app_id,
            emails,
            now=iso(NOW),
            definition=parse_filter("ChannelType = SMS").to_json(),
        )
        cases = {
            f"segment {imported}": {"tokyo-sms", "osaka-email"},
            f"segment all({imported}, {emails})": {"tokyo-sms"},
            f"segment all({imported}, {emails}@1)": {"osaka-email"},
            f"segment any({imported}, {emails}@1)": {"tokyo-email", "tokyo-sms", "osaka-email"},
            f"[segment {imported} and Metrics.score > 4]": {"osaka-email"},
            f"not [segment {imported}]": {"tokyo-email", "nyc-voice"},
        }
        for i, (text, expected) in enumerate(cases.items()):
            segment_store.create_dimensional(
                conn, app_id, name=f"c{i}", definition=parse_filter(text).to_json(), tags={},
                now=iso(NOW),
            )  # fmt: skip
            rows = conn.execute(matching_endpoints(conn, app_id, f"c{i}", now=NOW))
            assert {r.id for r in rows} == expected, text


def test_an_imported_segment_lists_its_members_with_their_users(app: tuple[Store, str]) -> None:
    store, app_id = app
    with store.begin() as conn:
        seg = segment_store.import_segment_for(
            conn, app_id, "list", now=iso(NOW), import_definition={}
        )
        segment_store.add_members(conn, app_id, seg, ["tokyo-sms", "nyc-voice"])
        rows = conn.execute(matching_endpoints(conn, app_id, seg, now=NOW)).all()
    assert sorted((r.id, r.user_id) for r in rows) == [("nyc-voice", None), ("tokyo-sms", "u1")]


def test_every_version_of_a_segment_is_kept(app: tuple[Store, str]) -> None:
    store, app_id = app
    with store.begin() as conn:
        seg = segment_store.create_dimensional(
            conn, app_id, name="v", definition=parse_filter("ChannelType = SMS").to_json(),
            tags={}, now=iso(NOW),
        )  # fmt: skip
        version = segment_store.update_definition(
            conn, app_id, seg, now=iso(NOW + timedelta(hours=1)),
            definition=parse_filter("ChannelType = EMAIL").to_json(), name="v2",
        )  # fmt: skip
        versions = segment_store.versions(conn, app_id, seg)
        first = segment_store.get_version(conn, app_id, seg, 1)
    assert version == 2
    assert [(v["Version"], v["Name"]) for v in versions] == [(1, "v"), (2, "v2")]
    assert first["Dimensions"]["Demographic"]["Channel"]["Values"] == ["SMS"]
    assert versions[1]["LastModifiedDate"] == iso(NOW + timedelta(hours=1))


def _fields(ep: Endpoint) -> dict[str, Any]:
    return {f: getattr(ep, f) for f in Endpoint.__dataclass_fields__}


def _last(conn: Connection, app_id: str) -> str:
    return str(segment_store.list_all(conn, app_id)[-1]["Id"])
