"""The seed's Pinpoint scripts, unmodified boto3, against `renraku serve` run as a subprocess.

The only change a Pinpoint user makes is ``AWS_ENDPOINT_URL_PINPOINT`` and a renraku key pair.
Every successful response body is checked against botocore's output shapes, byte for byte.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

RENRAKU = str(Path(sys.executable).parent / "renraku")
SEED_JOURNEY = Path(__file__).resolve().parents[2] / "examples" / "seed-journey.json"
SEED_CSV = (
    "Channel,Address,User.UserID,Attributes.CallStatus,Attributes.Index\n"
    "CUSTOM,+819011111111,User1,Pending,User1-Custom\n"
    "SMS,+819011111111,User1,Pending,User1-SMS\n"
    "EMAIL,test@example.com,User1,Pending,User1-EMAIL\n"
)
ROLE = "arn:aws:iam::000000000000:role/unused"


def _env(tmp: Path, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RENRAKU_", "AWS_"))}
    env["RENRAKU_DB"] = db_url
    env["RENRAKU_CONFIG"] = str(tmp / "renraku.toml")
    return env


def _renraku(env: dict[str, str], *args: str) -> Any:
    proc = subprocess.run(
        [RENRAKU, *args, "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, Any], Path]]:
    """`renraku serve` on ``db_url``; yields its URL, an admin key and the import directory."""
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "seed.csv").write_text(SEED_CSV, encoding="utf-8")
    (tmp_path / "renraku.toml").write_text(
        f'[server]\nimport_file_roots = ["{lists}"]\nmaster_key_file = "{tmp_path / "key"}"\n',
        encoding="utf-8",
    )
    env = _env(tmp_path, db_url)
    admin = _renraku(env, "keys", "create", "--admin", "--description", "acceptance")
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [RENRAKU, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a busy machine starts it slowly
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "renraku serve did not become ready"
            time.sleep(0.1)
        yield url, admin, lists
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()


class Shapes:
    """Every successful raw body validated against the operation's output payload shape."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.problems: list[str] = []

    def __call__(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        if response_dict["status_code"] >= 300:
            return
        shape = operation_model.output_shape
        payload = shape.members[shape.serialization["payload"]]
        report = ParamValidator().validate(json.loads(response_dict["body"]), payload)
        if report.has_errors():
            self.problems.append(f"{operation_model.name}: {report.generate_report()}")
        self.seen.append(operation_model.name)


def test_the_seeds_pinpoint_scripts_run_unmodified_against_renraku_serve(
    served: tuple[str, dict[str, Any], Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    db_url: str,
) -> None:
    url, admin, lists = served
    monkeypatch.setenv("AWS_ENDPOINT_URL_PINPOINT", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", admin["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", admin["SecretAccessKey"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    shapes = Shapes()
    # A fresh session reads the environment now (the default session caches credentials).
    session = boto3.session.Session()
    pinpoint = session.client("pinpoint", config=Config(retries={"mode": "standard"}))
    pinpoint.meta.events.register("before-parse.pinpoint.*", shapes)

    app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "pinpoint-connect-demo"})[
        "ApplicationResponse"
    ]["Id"]
    job = pinpoint.create_import_job(
        ApplicationId=app_id,
        ImportJobRequest={
            "S3Url": (lists / "seed.csv").as_uri(),
            "Format": "CSV",
            "RoleArn": ROLE,
            "DefineSegment": True,
            "SegmentName": "seed-customers",
        },
    )["ImportJobResponse"]
    assert job["JobStatus"] == "COMPLETED"
    assert job["TotalProcessed"] == 3
    polled = pinpoint.get_import_job(ApplicationId=app_id, JobId=job["Id"])["ImportJobResponse"]
    assert polled["JobStatus"] == "COMPLETED"

    dynamic = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "seed-pending-email",
            "Dimensions": {
                "Demographic": {"Channel": {"DimensionType": "INCLUSIVE", "Values": ["EMAIL"]}},
                "Attributes": {"CallStatus": {"AttributeType": "INCLUSIVE", "Values": ["Pending"]}},
            },
        },
    )["SegmentResponse"]
    assert dynamic["SegmentType"] == "DIMENSIONAL"

    # The deck's status-update Lambda, line for line in spirit.
    response = pinpoint.get_user_endpoints(ApplicationId=app_id, UserId="User1")
    for item in response["EndpointsResponse"]["Item"]:
        status = "COMPLETED" if item["Attributes"]["Index"][0] == "User1-Custom" else "CANCELED"
        pinpoint.update_endpoint(
            ApplicationId=app_id,
            EndpointId=item["Id"],
            EndpointRequest={"Attributes": {"CallStatus": [status]}},
        )
    after = pinpoint.get_user_endpoints(ApplicationId=app_id, UserId="User1")
    by_index = {
        e["Attributes"]["Index"][0]: e["Attributes"]["CallStatus"]
        for e in after["EndpointsResponse"]["Item"]
    }
    assert by_index == {
        "User1-Custom": ["COMPLETED"],
        "User1-SMS": ["CANCELED"],
        "User1-EMAIL": ["CANCELED"],
    }

    # The seed's journey, in Pinpoint's vocabulary: call, wait, split, SMS, wait, split, email.
    journey = json.loads(SEED_JOURNEY.read_text(encoding="utf-8"))
    del journey["Activities"]["done"]  # renraku's explicit End; Pinpoint just stops
    for activity in journey["Activities"].values():
        for body in activity.values():
            for link in ("NextActivity", "FalseActivity"):
                if isinstance(body, dict) and body.get(link) == "done":
                    del body[link]
    pinpoint.create_sms_template(
        TemplateName="seed-sms", SMSTemplateRequest={"Body": "Please check your email."}
    )
    pinpoint.create_email_template(
        TemplateName="seed-email",
        EmailTemplateRequest={"Subject": "Details", "TextPart": "Hello", "HtmlPart": "<p>Hi</p>"},
    )
    journey_id = pinpoint.create_journey(ApplicationId=app_id, WriteJourneyRequest=journey)[
        "JourneyResponse"
    ]["Id"]
    state = pinpoint.update_journey_state(
        ApplicationId=app_id, JourneyId=journey_id, JourneyStateRequest={"State": "ACTIVE"}
    )["JourneyResponse"]["State"]
    assert state == "ACTIVE"
    metrics = pinpoint.get_journey_execution_metrics(ApplicationId=app_id, JourneyId=journey_id)
    assert metrics["JourneyExecutionMetricsResponse"]["JourneyId"] == journey_id
    call_metrics = pinpoint.get_journey_execution_activity_metrics(
        ApplicationId=app_id, JourneyId=journey_id, JourneyActivityId="call"
    )
    assert call_metrics["JourneyExecutionActivityMetricsResponse"]["ActivityType"] == "CUSTOM"
    assert shapes.problems == []
    assert {
        "CreateApp",
        "CreateImportJob",
        "CreateSegment",
        "UpdateEndpoint",
        "CreateJourney",
        "UpdateJourneyState",
        "GetJourneyExecutionMetrics",
    } <= set(shapes.seen)

    # A key made by the CLI for one application reaches that application only.
    a = pinpoint.create_app(CreateApplicationRequest={"Name": "A"})["ApplicationResponse"]["Id"]
    b = pinpoint.create_app(CreateApplicationRequest={"Name": "B"})["ApplicationResponse"]["Id"]
    key = _renraku(_env(tmp_path, db_url), "keys", "create", "--app", "A")
    assert key["ApplicationId"] == a
    scoped = session.client(
        "pinpoint",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    assert [x["Id"] for x in scoped.get_apps()["ApplicationsResponse"]["Item"]] == [a]
    assert scoped.meta.endpoint_url == url
    with pytest.raises(ClientError) as exc:
        scoped.get_app(ApplicationId=b)
    assert exc.value.response["Error"]["Code"] == "ForbiddenException"
    listed = _renraku(_env(tmp_path, db_url), "keys", "list", "--all")["Item"]
    assert {k["AccessKeyId"] for k in listed} == {admin["AccessKeyId"], key["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)
