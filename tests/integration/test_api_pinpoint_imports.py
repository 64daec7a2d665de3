"""CreateImportJob / GetImportJob(s) and segments through boto3 against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from api_support import ShapeChecker, admin_key, live_server, make_app, pinpoint_client
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from renraku.app import App
from renraku.services import segments as segment_service
from renraku.store import endpoints as endpoint_store

# The seed deck's customer list, with its own column spellings.
SEED_CSV = (
    "Channel,Address,User.UserID,Attributes.CallStatus,Attributes.Index\n"
    "CUSTOM,+819011111111,User1,Pending,User1-Custom\n"
    "SMS,+819011111111,User1,Pending,User1-SMS\n"
    "EMAIL,test@example.com,User1,Pending,User1-EMAIL\n"
)
DYNAMIC = {
    "Dimensions": {
        "Demographic": {"Channel": {"DimensionType": "INCLUSIVE", "Values": ["EMAIL"]}},
        "Attributes": {"CallStatus": {"AttributeType": "INCLUSIVE", "Values": ["Pending"]}},
    }
}
ROLE = "arn:aws:iam::000000000000:role/unused"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "lists"
    root.mkdir()
    (root / "seed.csv").write_text(SEED_CSV, encoding="utf-8")
    return root


@pytest.fixture
def url_for(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Both dialects for tests that ask for ``db_url`` (they exercise the store); SQLite for the
    dialect-free checks."""
    if "db_url" in request.fixturenames:
        return str(request.getfixturevalue("db_url"))
    return sqlite_url


@pytest.fixture
def server(url_for: str, tmp_path: Path, files: Path) -> Iterator[tuple[App, str]]:
    app = make_app(url_for, tmp_path, import_file_roots=[str(files)])
    try:
        with live_server(app) as url:
            yield app, url
    finally:
        app.close()


@pytest.fixture
def checker() -> ShapeChecker:
    return ShapeChecker()


@pytest.fixture
def client(server: tuple[App, str], checker: ShapeChecker) -> Any:
    app, url = server
    return pinpoint_client(url, admin_key(app), checker=checker)


def _new_app(client: Any, name: str = "seed") -> str:
    return str(
        client.create_app(CreateApplicationRequest={"Name": name})["ApplicationResponse"]["Id"]
    )


def test_the_seed_csv_imports_through_create_import_job_from_an_allowed_file_url(
    db_url: str, client: Any, files: Path, checker: ShapeChecker
) -> None:
    app_id = _new_app(client)
    job = client.create_import_job(
        ApplicationId=app_id,
        ImportJobRequest={
            "S3Url": (files / "seed.csv").as_uri(),
            "Format": "CSV",
            "RoleArn": ROLE,
            "DefineSegment": True,
            "SegmentName": "seed-list",
        },
    )["ImportJobResponse"]
    assert job["JobStatus"] == "COMPLETED"
    assert job["TotalProcessed"] == 3
    assert job["TotalFailures"] == 0
    again = client.get_import_job(ApplicationId=app_id, JobId=job["Id"])["ImportJobResponse"]
    assert again["Id"] == job["Id"]
    listed = client.get_import_jobs(ApplicationId=app_id)["ImportJobsResponse"]["Item"]
    assert [j["Id"] for j in listed] == [job["Id"]]
    users = client.get_user_endpoints(ApplicationId=app_id, UserId="User1")["EndpointsResponse"]
    assert sorted(e["ChannelType"] for e in users["Item"]) == ["CUSTOM", "EMAIL", "SMS"]
    segment_id = job["Definition"]["SegmentId"]
    segment = client.get_segment(ApplicationId=app_id, SegmentId=segment_id)["SegmentResponse"]
    assert segment["SegmentType"] == "IMPORT"
    assert segment["Name"] == "seed-list"
    assert checker.problems == []


def test_file_urls_outside_the_allowed_directories_are_refused_and_nothing_is_imported(
    server: tuple[App, str], client: Any, tmp_path: Path
) -> None:
    app, _ = server
    app_id = _new_app(client)
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(SEED_CSV, encoding="utf-8")
    with pytest.raises(ClientError) as exc:
        client.create_import_job(
            ApplicationId=app_id,
            ImportJobRequest={"S3Url": outside.as_uri(), "Format": "CSV", "RoleArn": ROLE},
        )
    error = exc.value.response["Error"]
    assert error["Code"] == "BadRequestException"
    assert "ImportJobRequest.S3Url" in error["Message"]
    with app.store.connect() as conn:
        assert endpoint_store.count(conn, app_id) == 0


def test_an_unreadable_source_is_a_bad_request_naming_the_problem(client: Any, files: Path) -> None:
    app_id = _new_app(client)
    with pytest.raises(ClientError) as exc:
        client.create_import_job(
            ApplicationId=app_id,
            ImportJobRequest={
                "S3Url": (files / "missing.csv").as_uri(),
                "Format": "CSV",
                "RoleArn": ROLE,
            },
        )
    assert exc.value.response["Error"]["Code"] == "BadRequestException"
    assert "missing.csv" in exc.value.response["Error"]["Message"]


def test_the_seed_csv_imports_from_s3_through_boto3(
    server: tuple[App, str], client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        s3_url = f"http://{host}:{port}"
        for name, value in {
            "AWS_ENDPOINT_URL_S3": s3_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")
        s3.create_bucket(Bucket="calllist")
        s3.put_object(Bucket="calllist", Key="lists/seed.csv", Body=SEED_CSV.encode())
        app_id = _new_app(client, "s3")
        job = client.create_import_job(
            ApplicationId=app_id,
            ImportJobRequest={"S3Url": "s3://calllist/lists/", "Format": "CSV", "RoleArn": ROLE},
        )["ImportJobResponse"]
        assert job["JobStatus"] == "COMPLETED"
        assert job["TotalProcessed"] == 3
        assert job["Definition"]["S3Url"] == "s3://calllist/lists/"
    finally:
        moto.stop()


def test_the_seeds_dynamic_segment_follows_the_status_update(
    db_url: str, server: tuple[App, str], client: Any, files: Path, checker: ShapeChecker
) -> None:
    app, _ = server
    app_id = _new_app(client)
    client.create_import_job(
        ApplicationId=app_id,
        ImportJobRequest={"S3Url": (files / "seed.csv").as_uri(), "Format": "CSV", "RoleArn": ROLE},
    )
    created = client.create_segment(
        ApplicationId=app_id, WriteSegmentRequest={"Name": "email-pending", **DYNAMIC}
    )["SegmentResponse"]
    assert created["SegmentType"] == "DIMENSIONAL"
    segment_id = created["Id"]
    assert segment_service.count(app, app_id, segment_id)["Count"] == 1
    for endpoint in client.get_user_endpoints(ApplicationId=app_id, UserId="User1")[
        "EndpointsResponse"
    ]["Item"]:
        status = "COMPLETED" if endpoint["ChannelType"] == "CUSTOM" else "CANCELED"
        client.update_endpoint(
            ApplicationId=app_id,
            EndpointId=endpoint["Id"],
            EndpointRequest={"Attributes": {"CallStatus": [status]}},
        )
    assert segment_service.count(app, app_id, segment_id)["Count"] == 0
    renamed = client.update_segment(
        ApplicationId=app_id,
        SegmentId=segment_id,
        WriteSegmentRequest={"Name": "email-pending-v2", **DYNAMIC},
    )["SegmentResponse"]
    assert renamed["Name"] == "email-pending-v2"
    assert renamed["Version"] == 2
    listed = client.get_segments(ApplicationId=app_id)["SegmentsResponse"]["Item"]
    assert segment_id in [s["Id"] for s in listed]
    client.delete_segment(ApplicationId=app_id, SegmentId=segment_id)
    with pytest.raises(ClientError) as exc:
        client.get_segment(ApplicationId=app_id, SegmentId=segment_id)
    assert exc.value.response["Error"]["Code"] == "NotFoundException"
    assert checker.problems == []


def test_a_segment_with_an_unknown_dimension_is_refused_naming_it(client: Any) -> None:
    app_id = _new_app(client)
    with pytest.raises(ClientError) as exc:
        client.create_segment(
            ApplicationId=app_id,
            WriteSegmentRequest={
                "Name": "bad",
                "Dimensions": {
                    "Attributes": {"X": {"AttributeType": "SOMETIMES", "Values": ["1"]}}
                },
            },
        )
    assert exc.value.response["Error"]["Code"] == "BadRequestException"
    assert "SOMETIMES" in exc.value.response["Error"]["Message"]
