"""Segment use cases on both databases: checked creation (nothing stored when rejected), source
references by name, circles, preview, export in the import format, delete, and the matcher."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from renraku.app import App, build_app
from renraku.domain.endpoints import Endpoint
from renraku.domain.timefmt import iso
from renraku.errors import Conflict, InvalidInput, NotFound
from renraku.services import segments as service
from renraku.settings import load_settings
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture
def app(db_url: str) -> Iterator[tuple[App, str]]:
    built = build_app(load_settings(db=db_url), clock=FixedClock())
    with built.store.begin() as conn:
        app_id = str(app_store.create_app(conn, "svc", now=iso(NOW))["Id"])
        eps = []
        for user in ("User1", "User2"):
            status = {"User1": "PENDING", "User2": "CANCELED"}[user]
            for channel, address in (("CUSTOM", f"+8190{user[-1]}"), ("SMS", f"+8190{user[-1]}"),
                                     ("EMAIL", f"{user}@example.com")):  # fmt: skip
                eps.append(Endpoint(
                    app_id=app_id, id=f"{user}-{channel}", channel_type=channel, address=address,
                    user_id=user, attributes={"CallStatus": [status], "Tag": ["a", "b"]},
                    metrics={"score": 1.5}, location={"Country": "JP"},
                    effective_date=iso(NOW), creation_date=iso(NOW)))  # fmt: skip
        endpoint_store.upsert_many(conn, eps)
        seg = segment_store.import_segment_for(
            conn, app_id, "customers", now=iso(NOW), import_definition={}
        )
        segment_store.add_members(conn, app_id, seg, [ep.id for ep in eps])
    try:
        yield built, app_id
    finally:
        built.close()


SEED = "ChannelType = EMAIL and Attributes.CallStatus = PENDING"


def _names(app: App, app_id: str) -> list[str]:
    return [s["Name"] for s in service.list_segments(app, app_id)]


def test_the_seed_dynamic_segment_is_created_from_a_filter_and_counted(
    app: tuple[App, str],
) -> None:
    built, app_id = app
    seg = service.create(built, app_id, "pending-email", where=SEED)
    assert seg["SegmentType"] == "DIMENSIONAL"
    assert seg["Version"] == 1
    assert seg["Filter"] == SEED
    assert service.count(built, app_id, "pending-email") == {
        "Count": 1, "Users": 1, "ByChannel": {"EMAIL": 1}}  # fmt: skip
    shown = service.show(built, app_id, seg["Id"])
    assert shown["Dimensions"]["Attributes"]["CallStatus"]["Values"] == ["PENDING"]


def test_source_segments_named_by_name_are_stored_by_id(app: tuple[App, str]) -> None:
    built, app_id = app
    imported = service.require(built, app_id, "customers")["Id"]
    seg = service.create(built, app_id, "g", where="[segment customers and ChannelType = SMS]")
    assert seg["SegmentGroups"]["Groups"][0]["SourceSegments"] == [{"Id": imported}]
    assert service.count(built, app_id, "g")["Count"] == 2


def test_a_rejected_definition_stores_nothing_and_names_the_missing_segment(
    app: tuple[App, str],
) -> None:
    built, app_id = app
    before = _names(built, app_id)
    groups = {"SegmentGroups": {"Groups": [
        {"SourceSegments": [{"Id": "customers"}, {"Id": "nope"}]},
        {"SourceSegments": [{"Id": "customers", "Version": 9}]}]}}  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        service.create(built, app_id, "bad", definition=groups)
    problems = {p.path: p.message for p in caught.value.problems}
    assert set(problems) == {
        "SegmentGroups.Groups[0].SourceSegments[1].Id",
        "SegmentGroups.Groups[1].SourceSegments[0].Version",
    }
    assert "'nope'" in problems["SegmentGroups.Groups[0].SourceSegments[1].Id"]
    assert "versions 1 to" in problems["SegmentGroups.Groups[1].SourceSegments[0].Version"]
    with pytest.raises(InvalidInput):
        service.create(built, app_id, "bad", where="ChannelType = FAX")
    assert _names(built, app_id) == before


def test_a_circular_source_reference_is_rejected_on_update(app: tuple[App, str]) -> None:
    built, app_id = app
    a = service.create(built, app_id, "a", where="ChannelType = SMS")
    service.create(built, app_id, "b", where="[segment a and Metrics.score > 1]")
    with pytest.raises(InvalidInput) as caught:
        service.update(built, app_id, "a", where="[segment b]")
    (problem,) = caught.value.problems
    assert problem.path == "SegmentGroups.Groups[0].SourceSegments[0].Id"
    assert "circular" in problem.message
    assert service.show(built, app_id, "a")["Version"] == a["Version"]


def test_update_writes_a_new_version_and_imported_segments_refuse_definitions(
    app: tuple[App, str],
) -> None:
    built, app_id = app
    service.create(built, app_id, "s", where="ChannelType = SMS")
    updated = service.update(built, app_id, "s", where="ChannelType = EMAIL", name="emails")
    assert (updated["Version"], updated["Name"]) == (2, "emails")
    assert [v["Version"] for v in service.versions(built, app_id, "emails")] == [1, 2]
    assert service.show(built, app_id, "emails", version=1)["Filter"] == "ChannelType = SMS"
    with pytest.raises(Conflict):
        service.update(built, app_id, "customers", where="ChannelType = SMS")


def test_preview_lists_endpoints_or_users_in_id_order(app: tuple[App, str]) -> None:
    built, app_id = app
    service.create(built, app_id, "all-jp", where="Location.Country = JP")
    endpoints = service.preview(built, app_id, "all-jp", limit=2)
    assert [e["Id"] for e in endpoints] == ["User1-CUSTOM", "User1-EMAIL"]
    users = service.preview(built, app_id, "all-jp", limit=1, users=True)
    assert [(u["UserId"], len(u["Endpoints"])) for u in users] == [("User1", 3)]
    with pytest.raises(InvalidInput):
        service.preview(built, app_id, "all-jp", limit=0)


def test_export_writes_the_import_csv_format_with_repeated_columns(app: tuple[App, str]) -> None:
    built, app_id = app
    service.create(built, app_id, "pending", where="Attributes.CallStatus = PENDING")
    out = io.StringIO()
    assert service.export(built, app_id, "pending", out) == 3
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    header = rows[0]
    assert header[:4] == ["Id", "ChannelType", "Address", "User.UserId"]
    assert header.count("Attributes.Tag") == 2
    first = dict(zip(header, rows[1], strict=True))
    assert first["Id"] == "User1-CUSTOM"
    assert first["Attributes.CallStatus"] == "PENDING"
    assert first["Metrics.score"] == "1.5"
    assert [r[header.index("Attributes.Tag")] for r in rows[1:]] == ["a", "a", "a"]


def test_delete_is_refused_while_another_segment_uses_it(app: tuple[App, str]) -> None:
    built, app_id = app
    service.create(built, app_id, "uses", where="[segment customers]")
    with pytest.raises(Conflict, match="uses"):
        service.delete(built, app_id, "customers")
    service.delete(built, app_id, "uses")
    service.delete(built, app_id, "customers")
    with pytest.raises(NotFound):
        service.count(built, app_id, "customers")


def test_the_matcher_answers_like_the_sql_for_splits(app: tuple[App, str]) -> None:
    built, app_id = app
    service.create(built, app_id, "pending-email", where=SEED)
    service.create(built, app_id, "sms-of-list", where="[segment customers and ChannelType = SMS]")
    with built.store.connect() as conn:
        eps = [endpoint_store.get(conn, app_id, f"{u}-{c}") for u in ("User1", "User2")
               for c in ("CUSTOM", "SMS", "EMAIL")]  # fmt: skip
        seed = service.matcher(conn, app_id, "pending-email", now=NOW)
        sms = service.matcher(conn, app_id, "sms-of-list", now=NOW)
        imported = service.matcher(conn, app_id, "customers", now=NOW)
        assert [e.id for e in eps if seed(e)] == ["User1-EMAIL"]
        assert [e.id for e in eps if sms(e)] == ["User1-SMS", "User2-SMS"]
        assert all(imported(e) for e in eps)
        stranger = Endpoint(app_id=app_id, id="other", channel_type="SMS", address="+1")
        assert not sms(stranger)
