"""``renraku segments`` as a user runs it: a subprocess per command, on the seed's customer list."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

from cli_process import run_renraku

DATA = Path(__file__).resolve().parents[1] / "data"
RENRAKU = str(Path(sys.executable).parent / "renraku")
SEED = "ChannelType = EMAIL and Attributes.CallStatus = PENDING"


def run(tmp: Path, *args: str, code: int = 0, json_out: bool = True) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENRAKU_")}
    env["RENRAKU_DB"] = f"sqlite:///{tmp / 'renraku.db'}"
    extra = ["--json"] if json_out else []
    proc = run_renraku([*args, *extra], cwd=tmp, env=env, timeout=60)
    assert proc.returncode == code, proc.stderr + proc.stdout
    if not json_out:
        return proc.stdout
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def setup(tmp: Path) -> None:
    run(tmp, "init")
    rows = (DATA / "seed_customers.csv").read_text(encoding="utf-8").replace("Pending", "PENDING")
    rows += "CUSTOM,+819022222222,User2,COMPLETED,User2-Custom\n"
    rows += "SMS,+819022222222,User2,CANCELED,User2-SMS\n"
    rows += "EMAIL,user2@example.com,User2,CANCELED,User2-EMAIL\n"
    (tmp / "customers.csv").write_text(rows, encoding="utf-8")
    run(tmp, "import", "customers.csv", "--segment-name", "customers")


def test_the_seed_dynamic_segment_is_created_counted_shown_and_previewed(tmp_path: Path) -> None:
    setup(tmp_path)
    created = run(tmp_path, "segments", "create", "pending-email", "--where", SEED)
    assert (created["SegmentType"], created["Version"], created["Filter"]) == (
        "DIMENSIONAL", 1, SEED)  # fmt: skip
    counted = run(tmp_path, "segments", "count", "pending-email")
    assert counted == {"Count": 1, "Users": 1, "ByChannel": {"EMAIL": 1}}
    shown = run(tmp_path, "segments", "show", created["Id"])
    assert shown["Dimensions"]["Demographic"]["Channel"]["Values"] == ["EMAIL"]
    preview = run(tmp_path, "segments", "preview", "pending-email", "--users")
    assert [(u["UserId"], [e["Address"] for e in u["Endpoints"]]) for u in preview["Item"]] == [
        ("User1", ["test@example.com"])]  # fmt: skip
    text = run(tmp_path, "segments", "count", "pending-email", json_out=False)
    assert "1 endpoints, 1 users" in text


def test_json_definitions_from_files_and_the_filter_round_trip(tmp_path: Path) -> None:
    setup(tmp_path)
    converted = run(tmp_path, "segments", "convert", "--where", SEED)
    (tmp_path / "dims.json").write_text(json.dumps(converted["Dimensions"]), encoding="utf-8")
    from_json = run(tmp_path, "segments", "create", "from-json", "--dimensions", "@dims.json")
    assert from_json["Filter"] == SEED
    back = run(tmp_path, "segments", "convert", "--dimensions", "@dims.json")
    assert back == converted
    groups = {"Groups": [{"SourceSegments": [{"Id": "customers"}],
                          "Dimensions": [{"Demographic": {"Channel": {"Values": ["SMS"]}}}]}],
              "Include": "ALL"}  # fmt: skip
    grouped = run(tmp_path, "segments", "create", "sms", "--groups", json.dumps(groups))
    assert grouped["Filter"].startswith("[segment ")
    assert run(tmp_path, "segments", "count", "sms")["ByChannel"] == {"SMS": 2}


def test_export_writes_csv_that_imports_back(tmp_path: Path) -> None:
    setup(tmp_path)
    run(tmp_path, "segments", "create", "user2", "--where", "Attributes.CallStatus != PENDING")
    written = run(tmp_path, "segments", "export", "user2", "--output", "user2.csv")
    assert written == {"Output": "user2.csv", "Endpoints": 3}
    with (tmp_path / "user2.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["Attributes.CallStatus"] for r in rows) == ["CANCELED", "CANCELED", "COMPLETED"]
    job = run(tmp_path, "import", "user2.csv", "--segment-name", "again")
    assert job["JobStatus"] == "COMPLETED"
    assert run(tmp_path, "segments", "count", "again")["Count"] == 3


def test_bad_definitions_exit_3_with_paths_and_store_nothing(tmp_path: Path) -> None:
    setup(tmp_path)
    bad = {"Groups": [{"Dimensions": [{}, {"Attributes": {"CallStatus": {
        "AttributeType": "EQUALS", "Values": ["x"]}}}], "SourceSegments": [{"Id": "missing"}]}]}  # fmt: skip
    err = run(tmp_path, "segments", "create", "bad", "--groups", json.dumps(bad), code=3)
    paths = {p["path"] for p in err["error"]["problems"]}
    assert paths == {
        "SegmentGroups.Groups[0].Dimensions[1].Attributes.CallStatus.AttributeType",
        "SegmentGroups.Groups[0].SourceSegments[0].Id",
    }
    err = run(tmp_path, "segments", "create", "bad", "--where", "ChannelType = FAX", code=3)
    assert "unknown channel 'FAX'" in err["error"]["problems"][0]["message"]
    names = [s["Name"] for s in run(tmp_path, "segments", "list")["Item"]]
    assert names == ["customers"]


def test_delete_removes_a_segment_and_missing_ones_exit_4(tmp_path: Path) -> None:
    setup(tmp_path)
    run(tmp_path, "segments", "create", "pending-email", "--where", SEED)
    deleted = run(tmp_path, "segments", "delete", "pending-email")
    assert deleted["Name"] == "pending-email"
    run(tmp_path, "segments", "count", "pending-email", code=4)
