"""Imports from s3://bucket/prefix with boto3 against a moto server (real HTTP, real boto3)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import func, select

from renraku.app import App, build_app
from renraku.errors import ImportRejected
from renraku.services import imports as import_service
from renraku.services.imports import ImportOptions
from renraku.settings import load_settings
from renraku.store import apps as app_store
from renraku.store.schema import endpoints

SEED_CSV = (Path(__file__).resolve().parents[1] / "data" / "seed_customers.csv").read_text(
    encoding="utf-8"
)


@pytest.fixture
def bucket() -> str:
    """A bucket name of its own per test (moto keeps its state per process)."""
    return f"calllist-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, bucket: str) -> Iterator[Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        for name, value in {
            "AWS_ENDPOINT_URL_S3": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "ap-northeast-1",
        }.items():
            monkeypatch.setenv(name, value)
        client = boto3.client("s3", endpoint_url=url, region_name="ap-northeast-1")
        client.create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"},
        )
        yield client
    finally:
        server.stop()


@pytest.fixture
def app(sqlite_url: str) -> Iterator[App]:
    built = build_app(load_settings(db=sqlite_url))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def app_id(app: App) -> str:
    with app.store.begin() as conn:
        return str(app_store.create_app(conn, "default", now=app.now_iso())["Id"])


def _endpoint_count(app: App) -> int:
    with app.store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(endpoints)).scalar_one())


def test_a_prefix_imports_every_list_under_it_in_key_order(
    s3: Any, bucket: str, app: App, app_id: str
) -> None:
    ndjson = json.dumps(
        {"ChannelType": "EMAIL", "Address": "u2@example.jp", "User": {"UserId": "u2"}}
    )
    s3.put_object(Bucket=bucket, Key="lists/2026/a-seed.csv", Body=SEED_CSV.encode())
    s3.put_object(Bucket=bucket, Key="lists/2026/b-more.ndjson", Body=ndjson.encode())
    s3.put_object(Bucket=bucket, Key="lists/2026/", Body=b"")
    s3.put_object(Bucket=bucket, Key="lists/2026/README.md", Body=b"# not a list")
    s3.put_object(Bucket=bucket, Key="other/c.csv", Body=SEED_CSV.encode())
    job = import_service.run_import(
        app, app_id, ImportOptions(source=f"s3://{bucket}/lists/", segment_name="s3")
    )
    assert job["JobStatus"] == "COMPLETED"
    assert (job["TotalPieces"], job["CompletedPieces"], job["TotalProcessed"]) == (2, 2, 4)
    assert job["Definition"]["S3Url"] == f"s3://{bucket}/lists/"
    assert _endpoint_count(app) == 4
    only_json = import_service.run_import(
        app, app_id, ImportOptions(source=f"s3://{bucket}/lists/", format="json")
    )
    assert (only_json["TotalPieces"], only_json["TotalProcessed"]) == (1, 1)


def test_a_cp932_object_imports_like_its_utf8_original(
    s3: Any, bucket: str, app: App, app_id: str
) -> None:
    text = SEED_CSV.replace("Pending", "未連絡")
    s3.put_object(Bucket=bucket, Key="sjis/list.csv", Body=text.encode("cp932"))
    job = import_service.run_import(
        app, app_id, ImportOptions(source=f"s3://{bucket}/sjis/list.csv")
    )
    assert (job["TotalProcessed"], job["TotalFailures"]) == (3, 0)
    with app.store.connect() as conn:
        statuses = {r[0]["CallStatus"][0] for r in conn.execute(select(endpoints.c.attributes))}
    assert statuses == {"未連絡"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://no-such-bucket/lists/", "NoSuchBucket"),
        ("s3://{bucket}/nothing-here/", "object under this prefix"),
        ("s3:///lists/", "needs a bucket"),
    ],
)
def test_an_unreachable_s3_source_fails_the_job_and_writes_nothing(
    s3: Any, bucket: str, app: App, app_id: str, url: str, message: str
) -> None:
    with pytest.raises(ImportRejected, match=message):
        import_service.run_import(app, app_id, ImportOptions(source=url.format(bucket=bucket)))
    assert _endpoint_count(app) == 0
    assert import_service.list_jobs(app, app_id)[0]["JobStatus"] == "FAILED"


def test_an_empty_object_among_good_ones_rejects_the_whole_source_before_writing(
    s3: Any, bucket: str, app: App, app_id: str
) -> None:
    s3.put_object(Bucket=bucket, Key="mixed/a.csv", Body=SEED_CSV.encode())
    s3.put_object(Bucket=bucket, Key="mixed/b.csv", Body=b"")
    with pytest.raises(ImportRejected, match=r"mixed/b\.csv: the file is empty"):
        import_service.run_import(app, app_id, ImportOptions(source=f"s3://{bucket}/mixed/"))
    assert _endpoint_count(app) == 0
