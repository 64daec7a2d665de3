"""An import on PostgreSQL killed (SIGKILL) at random moments, from start-up to the last batch,
and run again each time: in the end every row of the file is an endpoint exactly once, with the
values of its row, and the segment holds each exactly once."""

from __future__ import annotations

import csv
import random
import signal
import subprocess
import time
from pathlib import Path

from harness import CLI, worker_env
from sqlalchemy import create_engine, func, select

from renraku.importing.synthetic import write_customer_csv
from renraku.store.engine import normalise_url
from renraku.store.schema import endpoints, import_jobs, segment_members

ROWS, BATCH, KILLS = 40_000, 500, 6


def test_an_import_killed_at_random_points_and_resumed_has_every_row_once(
    pg_url: str, tmp_path: Path
) -> None:
    rng = random.Random(5)
    source = write_customer_csv(tmp_path / "customers.csv", ROWS, with_ids=True)
    with source.open() as f:
        expected = {r["Id"]: r["Address"] for r in csv.DictReader(f)}
    env = worker_env(pg_url, "2026-03-05T01:00:00.000Z")
    subprocess.run([*CLI, "init"], env=env, check=True, capture_output=True, cwd=tmp_path)
    command = [*CLI, "import", str(source), "--batch-size", str(BATCH), "--json"]
    engine = create_engine(normalise_url(pg_url))
    kills = 0
    try:
        for _ in range(KILLS):
            proc = subprocess.Popen(
                command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(0.3, 2.0))
            if proc.poll() is not None:
                break  # it finished before this kill
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            kills += 1
        last = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=300)
        assert last.returncode == 0, last.stderr.decode()[-2000:]
        with engine.connect() as conn:
            stored = dict(conn.execute(select(endpoints.c.id, endpoints.c.address)).all())
            members = conn.execute(select(func.count()).select_from(segment_members)).scalar_one()
            distinct_members = conn.execute(
                select(func.count(func.distinct(segment_members.c.endpoint_id)))
            ).scalar_one()
            jobs = conn.execute(
                select(import_jobs.c.job_status, import_jobs.c.total_processed)
            ).all()
    finally:
        engine.dispose()
    assert kills >= 3
    assert stored == expected  # no lost row, no extra row, each with its own values
    assert members == distinct_members == ROWS
    assert ("COMPLETED", ROWS) in [tuple(j) for j in jobs]
