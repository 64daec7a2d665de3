"""The import use case on SQLite and PostgreSQL: idempotence, bad rows, rejection, batches, resume."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from renraku.app import App, build_app
from renraku.errors import ImportRejected
from renraku.importing.synthetic import write_customer_csv
from renraku.services import imports as import_service
from renraku.services.imports import ImportOptions, Progress
from renraku.settings import load_settings
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store.schema import endpoints, import_failures, segment_members

DATA = Path(__file__).resolve().parents[1] / "data"
SEED_CSV = DATA / "seed_customers.csv"


class StepClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def app(db_url: str, clock: StepClock) -> Iterator[App]:
    built = build_app(load_settings(db=db_url), clock=clock)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def app_id(app: App) -> str:
    with app.store.begin() as conn:
        return str(app_store.create_app(conn, "default", now=app.now_iso())["Id"])


def _endpoints(app: App, app_id: str) -> dict[str, dict[str, Any]]:
    with app.store.connect() as conn:
        rows = conn.execute(select(endpoints).where(endpoints.c.app_id == app_id)).all()
    return {r.id: endpoint_store.from_row(r).to_pinpoint() for r in rows}


def _count(app: App, table: Any) -> int:
    with app.store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _import(app: App, app_id: str, source: Path | str, **kwargs: Any) -> dict[str, Any]:
    return import_service.run_import(app, app_id, ImportOptions(source=str(source), **kwargs))


def test_the_seed_csv_imports_three_endpoints_of_user1_and_defines_a_segment(
    app: App, app_id: str
) -> None:
    job = _import(app, app_id, SEED_CSV)
    assert job["JobStatus"] == "COMPLETED"
    assert (job["TotalProcessed"], job["TotalFailures"], job["Failures"]) == (3, 0, [])
    assert (job["TotalPieces"], job["CompletedPieces"], job["FailedPieces"]) == (1, 1, 0)
    assert job["Type"] == "IMPORT"
    assert job["Definition"]["S3Url"] == SEED_CSV.as_uri()
    assert job["Definition"]["SegmentName"] == "seed_customers.csv"
    eps = _endpoints(app, app_id)
    assert sorted((e["ChannelType"], e["Address"]) for e in eps.values()) == [
        ("CUSTOM", "+819011111111"),
        ("EMAIL", "test@example.com"),
        ("SMS", "+819011111111"),
    ]
    assert {e["User"]["UserId"] for e in eps.values()} == {"User1"}
    segment = import_service.imported_segment(app, app_id, job["Definition"]["SegmentId"])
    assert segment["SegmentType"] == "IMPORT"
    assert segment["ImportDefinition"]["ChannelCounts"] == {"CUSTOM": 1, "SMS": 1, "EMAIL": 1}
    assert segment["ImportDefinition"]["Size"] == 3


def test_the_seed_csv_and_its_cp932_version_import_identically(
    app: App, app_id: str, tmp_path: Path
) -> None:
    text = SEED_CSV.read_text(encoding="utf-8").replace("Pending", "保留中")
    utf8 = tmp_path / "utf8.csv"
    utf8.write_text(text, encoding="utf-8")
    sjis = tmp_path / "sjis.csv"
    sjis.write_text(text, encoding="cp932")
    _import(app, app_id, utf8)
    first = _endpoints(app, app_id)
    job = _import(app, app_id, sjis)
    assert job["TotalFailures"] == 0
    assert _endpoints(app, app_id) == first
    assert {e["Attributes"]["CallStatus"][0] for e in first.values()} == {"保留中"}


def test_importing_the_same_file_twice_changes_nothing(
    app: App, app_id: str, clock: StepClock
) -> None:
    _import(app, app_id, SEED_CSV)
    before = _endpoints(app, app_id)
    clock.moment += timedelta(hours=1)
    job = _import(app, app_id, SEED_CSV)
    assert job["TotalProcessed"] == 3
    after = _endpoints(app, app_id)
    assert after.keys() == before.keys()
    for ep_id, ep in after.items():
        assert ep["CreationDate"] == before[ep_id]["CreationDate"]
        assert {k: v for k, v in ep.items() if k != "EffectiveDate"} == {
            k: v for k, v in before[ep_id].items() if k != "EffectiveDate"
        }
    assert _count(app, segment_members) == 3


def test_an_edited_file_updates_in_place_and_keeps_the_creation_date(
    app: App, app_id: str, clock: StepClock, tmp_path: Path
) -> None:
    _import(app, app_id, SEED_CSV)
    before = _endpoints(app, app_id)
    clock.moment += timedelta(days=1)
    edited = tmp_path / "seed_customers.csv"
    edited.write_text(
        SEED_CSV.read_text(encoding="utf-8").replace("Pending", "COMPLETED"), encoding="utf-8"
    )
    _import(app, app_id, edited)
    after = _endpoints(app, app_id)
    assert after.keys() == before.keys()
    for ep_id, ep in after.items():
        assert ep["Attributes"]["CallStatus"] == ["COMPLETED"]
        assert ep["CreationDate"] == before[ep_id]["CreationDate"] == "2026-11-26T03:00:00.000Z"
        assert ep["EffectiveDate"] == "2026-11-27T03:00:00.000Z"


def test_national_numbers_use_the_default_region(app: App, app_id: str, tmp_path: Path) -> None:
    source = tmp_path / "national.csv"
    source.write_text("ChannelType,Address,User.UserId\nSMS,090-1111-1111,u1\n", encoding="utf-8")
    job = _import(app, app_id, source, default_region="JP")
    assert job["TotalFailures"] == 0
    assert [e["Address"] for e in _endpoints(app, app_id).values()] == ["+819011111111"]


BAD_ROWS = (
    "ChannelType,Address,User.UserId,Attributes.Name,Attributes.Note\n"
    "SMS,+819011111111,good1,山田 太郎,ok\n"  # 2 good
    "SMS,+81 12,bad1,x,x\n"  # 3 impossible phone
    "VOICE,+819001111111,bad2,x,x\n"  # 4 invalid for JP
    "EMAIL,not-an-email,bad3,x,x\n"  # 5 invalid email
    "FAX,+819011111111,bad4,x,x\n"  # 6 unknown channel
    "EMAIL,,bad5,x,x\n"  # 7 missing address
    f"EMAIL,a@example.com,bad6,{'長' * 101},x\n"  # 8 value over 100
    'EMAIL,b@example.com,bad7,"x"y,x\n'  # 9 malformed quoting
    "EMAIL,c@example.com,good2,\"=cmd|' /C calc'!A0\",ok\n"  # 10 good, formula kept
)


def test_each_bad_row_is_rejected_with_line_column_value_and_reason_and_good_rows_import(
    app: App, app_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(BAD_ROWS, encoding="utf-8")
    job = _import(app, app_id, source)
    assert job["JobStatus"] == "COMPLETED"
    assert (job["TotalProcessed"], job["TotalFailures"]) == (9, 7)
    failures = list(import_service.job_failures(app, app_id, job["Id"]))
    by_line = {f.line: f for f in failures}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9]
    assert all(f.source == str(source) for f in failures)
    assert (by_line[3].column, by_line[3].value) == ("Address", "+81 12")
    assert "impossible" in by_line[3].reason
    assert "not a valid phone number in JP" in by_line[4].reason
    assert "not a valid email address" in by_line[5].reason
    assert (by_line[6].column, by_line[6].value) == ("ChannelType", "FAX")
    assert (by_line[7].column, by_line[7].reason) == ("Address", "Address is required")
    assert by_line[8].column == "Attributes.Name"
    assert "over 100 characters" in by_line[8].reason
    assert "malformed CSV" in by_line[9].reason
    assert job["Failures"][0].startswith(f"{source}:3: Address '+81 12'")
    users = {e["User"]["UserId"]: e for e in _endpoints(app, app_id).values()}
    assert set(users) == {"good1", "good2"}
    assert users["good2"]["Attributes"]["Name"] == ["=cmd|' /C calc'!A0"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"CUSTOM,+819011111111,User1\n", "no header row"),
        (b"Name,Phone\nTaro,090\n", "no column renraku can use"),
    ],
)
def test_an_unreadable_source_fails_the_job_and_leaves_the_store_unchanged(
    app: App, app_id: str, clock: StepClock, tmp_path: Path, content: bytes, message: str
) -> None:
    _import(app, app_id, SEED_CSV)
    clock.moment += timedelta(seconds=1)
    before = (_endpoints(app, app_id), _count(app, segment_members))
    source = tmp_path / "broken.csv"
    source.write_bytes(content)
    with pytest.raises(ImportRejected, match=message):
        _import(app, app_id, source)
    assert (_endpoints(app, app_id), _count(app, segment_members)) == before
    jobs = import_service.list_jobs(app, app_id)
    assert jobs[0]["JobStatus"] == "FAILED"
    assert message in jobs[0]["Failures"][0]
    with app.store.connect() as conn:
        from renraku.store import segments as segment_store

        names = [s["Name"] for s in segment_store.list_all(conn, app_id)]
    assert "broken.csv" not in names


def test_a_missing_file_and_an_unknown_scheme_are_rejected(app: App, app_id: str) -> None:
    with pytest.raises(ImportRejected, match="no such file"):
        _import(app, app_id, "/nonexistent/list.csv")
    with pytest.raises(ImportRejected, match="unsupported scheme"):
        _import(app, app_id, "ftp://host/list.csv")
    assert _count(app, endpoints) == 0


def test_ndjson_with_pinpoint_objects_imports_with_explicit_ids(
    app: App, app_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "list.ndjson"
    lines = [
        {
            "Id": "ep-call",
            "ChannelType": "VOICE",
            "Address": "+819011111111",
            "User": {"UserId": "u1", "UserAttributes": {"Name": ["山田 太郎"]}},
            "Attributes": {"CallStatus": ["PENDING"]},
            "Location": {"Country": "JP"},
        },
        {"ChannelType": "EMAIL", "Address": "u1@example.jp", "User": {"UserId": "u1"}},
        {"ChannelType": "EMAIL", "Address": "broken"},
    ]
    source.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    job = _import(app, app_id, source)
    assert job["Definition"]["Format"] == "JSON"
    assert (job["TotalProcessed"], job["TotalFailures"]) == (3, 1)
    eps = _endpoints(app, app_id)
    assert eps["ep-call"]["User"]["UserAttributes"] == {"Name": ["山田 太郎"]}
    assert eps["ep-call"]["Location"] == {"Country": "JP"}
    assert len(eps) == 2


def test_a_folder_or_file_url_imports_every_list_in_it(
    app: App, app_id: str, tmp_path: Path
) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "2026").mkdir()
    write_customer_csv(folder / "a.csv", 30, seed=1)
    write_customer_csv(folder / "2026" / "b.csv", 30, seed=2)
    (folder / "readme.md").write_text("not a list")
    job = _import(app, app_id, folder.as_uri(), segment_name="both")
    assert (job["TotalPieces"], job["CompletedPieces"], job["TotalProcessed"]) == (2, 2, 60)
    distinct = {
        tuple(line.split(",")[:3])
        for name in ("a.csv", "2026/b.csv")
        for line in (folder / name).read_text(encoding="utf-8").splitlines()[1:]
    }
    assert len(_endpoints(app, app_id)) == len(distinct)
    segment = import_service.imported_segment(app, app_id, job["Definition"]["SegmentId"])
    assert segment["ImportDefinition"]["Size"] == len(distinct)


def test_duplicate_rows_within_one_batch_keep_the_last(
    app: App, app_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "dupes.csv"
    source.write_text(
        "ChannelType,Address,User.UserId,Attributes.V\n"
        "EMAIL,a@example.com,u1,first\nEMAIL,a@EXAMPLE.COM,u1,second\n",
        encoding="utf-8",
    )
    job = _import(app, app_id, source)
    assert (job["TotalProcessed"], job["TotalFailures"]) == (2, 0)
    eps = list(_endpoints(app, app_id).values())
    assert [(e["Address"], e["Attributes"]["V"]) for e in eps] == [("a@example.com", ["second"])]


class Interrupt(Exception):
    pass


def test_an_interrupted_import_keeps_whole_batches_and_running_it_again_completes_it(
    app: App, app_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "customers.csv"
    write_customer_csv(source, 1000)
    with source.open("a", encoding="utf-8") as out:
        out.write("SMS,12,badUser,PENDING,x,x,Asia/Tokyo,JP\n")
    seen: list[int] = []

    def stop_after_three_batches(progress: Progress) -> None:
        seen.append(progress.processed)
        if len(seen) == 3:
            raise Interrupt

    options = ImportOptions(source=str(source), batch_size=100)
    with pytest.raises(Interrupt):
        import_service.run_import(app, app_id, options, progress=stop_after_three_batches)
    job = import_service.list_jobs(app, app_id)[0]
    assert job["JobStatus"] == "IN_PROGRESS"
    assert job["TotalProcessed"] == 300
    assert _count(app, endpoints) == 300
    assert _count(app, segment_members) == 300

    resumed = import_service.run_import(app, app_id, options)
    assert resumed["Id"] == job["Id"]
    assert resumed["JobStatus"] == "COMPLETED"
    assert (resumed["TotalProcessed"], resumed["TotalFailures"]) == (1001, 1)
    assert _count(app, endpoints) == 1000
    assert _count(app, segment_members) == 1000
    assert _count(app, import_failures) == 1


def test_a_changed_file_is_not_resumed_but_imported_afresh(
    app: App, app_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "customers.csv"
    write_customer_csv(source, 300)

    def stop(progress: Progress) -> None:
        raise Interrupt

    options = ImportOptions(source=str(source), batch_size=100)
    with pytest.raises(Interrupt):
        import_service.run_import(app, app_id, options, progress=stop)
    first = import_service.list_jobs(app, app_id)[0]
    write_customer_csv(source, 600)
    job = import_service.run_import(app, app_id, options)
    assert job["Id"] != first["Id"]
    assert job["TotalProcessed"] == 600
    assert import_service.get_job(app, app_id, first["Id"])["JobStatus"] == "FAILED"
    assert _count(app, endpoints) == 600


# Validation workers do not touch the store: one dialect is enough, and spawning is slow.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_validation_in_worker_processes_gives_the_same_result_in_file_order(
    app: App, app_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "customers.csv"
    write_customer_csv(source, 1200)
    with source.open("a", encoding="utf-8") as out:
        out.write("SMS,+81 12,late1,PENDING,x,x,Asia/Tokyo,JP\n")
        out.write("EMAIL,nope,late2,PENDING,x,x,Asia/Tokyo,JP\n")
    with app.store.begin() as conn:
        other = str(app_store.create_app(conn, "other", now=app.now_iso())["Id"])
    serial = import_service.run_import(
        app, app_id, ImportOptions(source=str(source), batch_size=100, workers=0)
    )
    parallel = import_service.run_import(
        app, other, ImportOptions(source=str(source), batch_size=100, workers=2)
    )
    for key in ("JobStatus", "TotalProcessed", "TotalFailures", "Failures"):
        assert parallel[key] == serial[key]
    assert [f.line for f in import_service.job_failures(app, other, parallel["Id"])] == [1202, 1203]

    def shape(of: str) -> list[tuple[Any, ...]]:
        return sorted(
            (e["ChannelType"], e["Address"], e["User"]["UserId"], json.dumps(e["Attributes"]))
            for e in _endpoints(app, of).values()
        )

    assert shape(other) == shape(app_id)
    assert len(shape(other)) == 1200


def test_endpoint_update_uses_the_same_rules_and_reports_every_problem(
    app: App, app_id: str
) -> None:
    from renraku.errors import InvalidInput
    from renraku.services import endpoints as endpoint_service

    created = endpoint_service.update_endpoint(
        app,
        app_id,
        "ep-1",
        {"ChannelType": "voice", "Address": "090-1111-1111", "User": {"UserId": "u1"}},
        default_region="JP",
    )
    assert (created.channel_type, created.address) == ("VOICE", "+819011111111")
    with pytest.raises(InvalidInput) as caught:
        endpoint_service.update_endpoint(
            app,
            app_id,
            "ep-1",
            {"Attributes": {"x" * 51: ["v"]}, "OptOut": "SOMETIMES"},
        )
    assert {p.path for p in caught.value.problems} == {
        f"EndpointRequest.Attributes.{'x' * 51}",
        "EndpointRequest.OptOut",
    }


def test_a_piece_that_becomes_unreadable_during_the_import_fails_alone(
    app: App, app_id: str, tmp_path: Path
) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    write_customer_csv(folder / "a.csv", 30, seed=1)
    write_customer_csv(folder / "b.csv", 30, seed=2)

    def truncate_b(progress: Progress) -> None:
        if progress.piece_index == 0:
            (folder / "b.csv").write_bytes(b"")

    job = import_service.run_import(
        app, app_id, ImportOptions(source=str(folder)), progress=truncate_b
    )
    assert job["JobStatus"] == "COMPLETED"
    assert (job["TotalPieces"], job["CompletedPieces"], job["FailedPieces"]) == (2, 1, 1)
    assert job["TotalProcessed"] == 30
    assert any("b.csv" in f and "the file is empty" in f for f in job["Failures"])
    assert _count(app, endpoints) == 30
