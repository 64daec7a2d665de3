"""``renraku import``, ``renraku imports`` and ``renraku demo`` as a user runs them (subprocesses)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_process import run_renraku
from sqlalchemy import create_engine, func, select

from renraku.importing.synthetic import write_customer_csv
from renraku.store.engine import normalise_url
from renraku.store.schema import endpoints, import_jobs, segment_members

RENRAKU = str(Path(sys.executable).with_name("renraku"))
SEED_CSV = Path(__file__).resolve().parents[1] / "data" / "seed_customers.csv"


def _run(cwd: Path, *args: str, db: str | None = None, check: bool = True) -> Any:
    env = {**os.environ, "RENRAKU_DB": db or f"sqlite:///{cwd / 'renraku.db'}"}
    env.pop("RENRAKU_APP", None)
    proc = run_renraku(args, cwd=cwd, env=env, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def _json(cwd: Path, *args: str, db: str | None = None) -> Any:
    return json.loads(_run(cwd, *args, "--json", db=db).stdout)


def test_import_prints_the_import_job_response_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    _run(tmp_path, "init")
    job = _json(tmp_path, "import", str(SEED_CSV))
    assert job["JobStatus"] == "COMPLETED"
    assert (job["TotalProcessed"], job["TotalFailures"]) == (3, 0)
    user = _json(tmp_path, "endpoints", "user", "User1")
    again = _json(tmp_path, "import", str(SEED_CSV))
    assert again["Id"] != job["Id"]
    assert {e["Id"] for e in _json(tmp_path, "endpoints", "user", "User1")["Item"]} == {
        e["Id"] for e in user["Item"]
    }
    segments = _json(tmp_path, "segments", "list")
    items = segments["Item"] if isinstance(segments, dict) else segments
    seed_segment = next(s for s in items if s["Name"] == "seed_customers.csv")
    assert seed_segment["ImportDefinition"]["ChannelCounts"] == {"CUSTOM": 1, "SMS": 1, "EMAIL": 1}


def test_errors_out_lists_every_rejected_row_with_formulas_escaped(tmp_path: Path) -> None:
    _run(tmp_path, "init")
    source = tmp_path / "list.csv"
    source.write_text(
        "ChannelType,Address,User.UserId,Attributes.Name\n"
        "SMS,090-1111-1111,u1,ok\n"
        "SMS,090-1111,u2,\"=cmd|' /C calc'!A0\"\n"
        'EMAIL,=HYPERLINK("http://x"),u3,x\n',
        encoding="utf-8",
    )
    errors = tmp_path / "errors.csv"
    job = _json(
        tmp_path, "import", str(source), "--default-region", "JP", "--errors-out", str(errors)
    )
    assert (job["TotalProcessed"], job["TotalFailures"]) == (3, 2)
    rows = list(csv.DictReader(errors.read_text(encoding="utf-8").splitlines()))
    assert [(r["line"], r["column"]) for r in rows] == [("3", "Address"), ("4", "Address")]
    assert rows[0]["value"] == "090-1111"
    assert rows[1]["value"] == '\'=HYPERLINK("http://x")'
    assert all(r["source"] == str(source) and r["reason"] for r in rows)
    again = tmp_path / "again.csv"
    _run(tmp_path, "imports", "show", job["Id"], "--errors-out", str(again))
    assert again.read_text(encoding="utf-8") == errors.read_text(encoding="utf-8")


def test_imports_list_and_show_return_pinpoint_shapes(tmp_path: Path) -> None:
    _run(tmp_path, "init")
    job = _json(tmp_path, "import", str(SEED_CSV), "--segment-name", "seed")
    listed = _json(tmp_path, "imports", "list")
    assert [j["Id"] for j in listed["Item"]] == [job["Id"]]
    shown = _json(tmp_path, "imports", "show", job["Id"])
    assert shown == job
    assert set(shown) >= {
        "ApplicationId", "Id", "JobStatus", "Type", "CreationDate", "CompletionDate", "Definition",
        "TotalProcessed", "TotalFailures", "TotalPieces", "CompletedPieces", "FailedPieces",
        "Failures",
    }  # fmt: skip
    assert shown["Definition"]["SegmentName"] == "seed"
    text = _run(tmp_path, "imports", "show", job["Id"]).stdout
    assert "COMPLETED" in text
    assert "SMS" in text


def test_an_unreadable_file_exits_3_with_the_reason_and_no_endpoints(tmp_path: Path) -> None:
    _run(tmp_path, "init")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    proc = _run(tmp_path, "import", str(empty), "--json", check=False)
    assert proc.returncode == 3
    error = json.loads(proc.stdout)["error"]
    assert error["type"] == "ImportRejected"
    assert "the file is empty" in error["message"]
    proc = _run(tmp_path, "import", str(tmp_path / "missing.csv"), check=False)
    assert proc.returncode == 3
    assert "no such file" in proc.stderr
    assert _json(tmp_path, "imports", "list")["Item"][0]["JobStatus"] == "FAILED"
    proc = _run(tmp_path, "endpoints", "user", "User1", check=False)
    assert proc.returncode == 4


def test_progress_bar_with_rows_per_second_is_drawn_on_a_terminal(tmp_path: Path) -> None:
    import pty

    _run(tmp_path, "init")
    source = write_customer_csv(tmp_path / "customers.csv", 3000)
    env = {**os.environ, "RENRAKU_DB": f"sqlite:///{tmp_path / 'renraku.db'}", "COLUMNS": "160"}
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes the CLI
        os.chdir(tmp_path)
        os.execve(RENRAKU, [RENRAKU, "import", str(source), "--batch-size", "500"], env)
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    text = output.decode("utf-8", "replace")
    assert "rows/s" in text
    assert "customers.csv" in text


def _pg_counts(url: str) -> tuple[int, int, Any]:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            n_endpoints = conn.execute(select(func.count()).select_from(endpoints)).scalar_one()
            n_members = conn.execute(select(func.count()).select_from(segment_members)).scalar_one()
            job = conn.execute(select(import_jobs)).first()
    finally:
        engine.dispose()
    return int(n_endpoints), int(n_members), job


@pytest.mark.postgres
def test_a_killed_import_leaves_whole_batches_and_running_it_again_completes_it(
    pg_url: str, tmp_path: Path
) -> None:
    rows, batch = 20_000, 500
    source = write_customer_csv(tmp_path / "customers.csv", rows)
    _run(tmp_path, "init", db=pg_url)
    env = {**os.environ, "RENRAKU_DB": pg_url}
    proc = subprocess.Popen(
        [RENRAKU, "import", str(source), "--batch-size", str(batch), "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            job = _pg_counts(pg_url)[2]
            if job is not None and job.total_processed >= 3 * batch:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    n_endpoints, n_members, job = _pg_counts(pg_url)
    assert job.job_status == "IN_PROGRESS"
    assert 0 < job.total_processed < rows
    assert job.total_processed % batch == 0  # only whole batches were committed
    assert n_endpoints == n_members == job.total_processed

    resumed = _json(tmp_path, "import", str(source), "--batch-size", str(batch), db=pg_url)
    assert resumed["Id"] == job.id
    assert resumed["JobStatus"] == "COMPLETED"
    assert (resumed["TotalProcessed"], resumed["TotalFailures"]) == (rows, 0)
    n_endpoints, n_members, _ = _pg_counts(pg_url)
    assert n_endpoints == n_members == rows


def test_ctrl_c_stops_after_whole_batches_and_says_how_to_finish(tmp_path: Path) -> None:
    rows, batch = 20_000, 500
    source = write_customer_csv(tmp_path / "customers.csv", rows)
    db = f"sqlite:///{tmp_path / 'renraku.db'}"
    _run(tmp_path, "init", db=db)
    proc = subprocess.Popen(
        [RENRAKU, "import", str(source), "--batch-size", str(batch)],
        cwd=tmp_path,
        env={**os.environ, "RENRAKU_DB": db},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    engine = create_engine(db)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                job = conn.execute(select(import_jobs.c.total_processed)).first()
            if job is not None and job.total_processed >= batch:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130
        assert "run the same command again" in stderr
        with engine.connect() as conn:
            done = conn.execute(select(import_jobs.c.total_processed)).scalar_one()
            stored = conn.execute(select(func.count()).select_from(endpoints)).scalar_one()
        assert done % batch == 0
        assert stored == done
    finally:
        engine.dispose()
    job = _json(tmp_path, "import", str(source), "--batch-size", str(batch), db=db)
    assert (job["JobStatus"], job["TotalProcessed"]) == ("COMPLETED", rows)
