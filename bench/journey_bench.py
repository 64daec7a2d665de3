"""Journey benchmark: N users through the seed's journey on the virtual clock.

call (VOICE, a fixed share presses 1 and is marked reached) -> wait 1 h -> split on the dynamic
segment (EMAIL and CallStatus = PENDING) -> SMS -> wait 1 h -> split -> EMAIL -> End, with the
recording transports answering at once. Reports, per database and worker count: participant-steps
per second, wall time, sends, peak worker RSS, p99 scheduling lateness (wall seconds between the
clock reaching a participant's due time and its step), and as the floor in the same run the rate of
a raw batched SQL UPDATE of the same participant rows. Checks the outcome exactly.

    .venv/bin/python bench/journey_bench.py --users 100000
    .venv/bin/python bench/journey_bench.py --users 20000 --only postgresql --workers 2
    .venv/bin/python bench/journey_bench.py --mode admission --users 1000000 --only postgresql
    .venv/bin/python bench/journey_bench.py --mode waiting --waiting 1000000 --only sqlite

``--mode admission`` times the segment entry alone (participants admitted per second, CPU of
this process and of its PostgreSQL backend); ``--mode waiting`` measures the trickle lateness
with a million participants waiting (inserted set-based as waiting rows) and prints the plans of
the claim statement and the next-wake look-up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import and_, bindparam, create_engine, func, select, text, update

from renraku.app import build_app
from renraku.channels import recording
from renraku.domain.endpoints import Endpoint
from renraku.domain.timefmt import iso
from renraku.engine import entry
from renraku.engine.config import JourneySettings
from renraku.services import journeys
from renraku.settings import ClockSettings, Settings
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store
from renraku.store import templates as template_store
from renraku.store.bulk import update_by_key
from renraku.store.engine import normalise_url
from renraku.store.participants import participants

START = "2026-03-05T01:00:00.000Z"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
CHANNELS = '["VOICE","SMS","EMAIL","CUSTOM"]'
PENDING_EMAIL = {
    "Dimensions": {
        "Demographic": {"Channel": {"DimensionType": "INCLUSIVE", "Values": ["EMAIL"]}},
        "Attributes": {"CallStatus": {"AttributeType": "INCLUSIVE", "Values": ["PENDING"]}},
    }
}
SPLIT = {"Conditions": [{"SegmentCondition": {"SegmentId": "pending-email"}}]}
JOURNEY = {
    "Name": "seed escalation (benchmark)",
    "StartCondition": {"SegmentStartCondition": {"SegmentId": "customers"}},
    "StartActivity": "call",
    "Activities": {
        "call": {
            "VOICE": {"ContactFlowId": "press-one", "MarkReached": True, "NextActivity": "w1"}
        },
        "w1": {"Wait": {"WaitTime": {"WaitFor": "PT1H"}, "NextActivity": "s1"}},
        "s1": {
            "ConditionalSplit": {"Condition": SPLIT, "TrueActivity": "sms", "FalseActivity": "end"}
        },
        "sms": {"SMS": {"TemplateName": "sms", "NextActivity": "w2"}},
        "w2": {"Wait": {"WaitTime": {"WaitFor": "PT1H"}, "NextActivity": "s2"}},
        "s2": {
            "ConditionalSplit": {
                "Condition": SPLIT,
                "TrueActivity": "email",
                "FalseActivity": "end",
            }
        },
        "email": {"EMAIL": {"TemplateName": "email", "NextActivity": "end"}},
        "end": {"End": {}},
    },
}


def _settings(url: str, batch: int) -> Settings:
    return Settings(
        db=url,
        clock=ClockSettings(mode="virtual", virtual_start=START),
        journeys=JourneySettings(
            record_channels=["VOICE", "SMS", "EMAIL", "CUSTOM"], batch_size=batch
        ),
    )


def setup(url: str, users: int, pressed_every: int, batch: int) -> tuple[str, str, int]:
    """Load users, segments, templates and call scripts; publish the journey. (app, journey, pressed).

    Endpoints go through the import's bulk path (COPY to a staging table on PostgreSQL, joining
    the imported segment from it), 20,000 users per transaction, so memory stays flat."""
    app = build_app(_settings(url, batch))
    try:
        now = app.now_iso()
        with app.store.begin() as conn:
            app_id = app_store.create_app(conn, "bench", now=now)["Id"]
            seg = segment_store.import_segment_for(
                conn, app_id, "customers", now=now, import_definition={}
            )
            segment_store.create_dimensional(
                conn, app_id, name="pending-email", definition=PENDING_EMAIL, tags={}, now=now
            )
            template_store.put(conn, app_id, "sms", "SMS", {"Body": "Please call us"}, now=now)
            template_store.put(
                conn, app_id, "email", "EMAIL", {"Subject": "s", "TextPart": "t"}, now=now
            )
        pressed = 0
        for lo in range(0, users, 20_000):
            rows: list[tuple[Any, ...]] = []
            scripts: list[tuple[str, str, str, float]] = []
            for i in range(lo, min(users, lo + 20_000)):
                user, phone = f"U{i}", f"+8190{i:08d}"
                for ch, addr in (("VOICE", phone), ("SMS", phone), ("EMAIL", f"u{i}@example.com")):
                    ep = Endpoint(
                        app_id=app_id,
                        id=f"{user}-{ch}",
                        channel_type=ch,
                        address=addr,
                        user_id=user,
                        attributes={"CallStatus": ["PENDING"]},
                        creation_date=now,
                        effective_date=now,
                    )
                    rows.append(endpoint_store.driver_tuple(endpoint_store.to_row(ep)))
                if i % pressed_every == 0:
                    scripts.append((phone, "ANSWERED", "1", 40.0))
                    pressed += 1
            with app.store.begin() as conn:
                endpoint_store.upsert_driver_tuples(conn, rows, segment_id=seg)
                recording.script_many(conn, scripts)
        journey = journeys.create(app, app_id, JOURNEY)
        journeys.publish(app, app_id, journey["Id"])
        return app_id, journey["Id"], pressed
    finally:
        app.close()


def _backend_cpu(conn: Any) -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (0 on SQLite: in-process)."""
    if conn.dialect.name != "postgresql":
        return 0.0
    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    conn.commit()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def admission(url: str, journey_id: str) -> dict[str, Any]:
    """Run the journey's segment entry to the end in this process, one chunk per transaction on
    one connection, as a worker's ticks do; rows/s and CPU of this process and of its backend."""
    engine = create_engine(normalise_url(url))
    now = datetime.fromisoformat(START.replace("Z", "+00:00"))
    chunks = 0
    with engine.connect() as conn:
        cpu0, backend0, t0 = time.process_time(), _backend_cpu(conn), time.perf_counter()
        steps: list[float] = []
        while True:
            began = time.perf_counter()
            with conn.begin():
                if not entry.run_due_entries(conn, now):
                    break
            steps.append(time.perf_counter() - began)
            chunks += 1
        wall = time.perf_counter() - t0
        cpu, backend = time.process_time() - cpu0, _backend_cpu(conn) - backend0
        admitted = conn.execute(
            select(func.count())
            .select_from(participants)
            .where(participants.c.journey_id == journey_id)
        ).scalar_one()
        entered = conn.execute(
            text("SELECT count(*) FROM events WHERE kind = 'journey.entered'")
        ).scalar_one()
    engine.dispose()
    if entered != admitted:
        raise SystemExit(f"admission: {admitted} participants but {entered} entry events")
    return {
        "admitted": admitted,
        "chunks": chunks,
        "admission_wall_s": round(wall, 1),
        "admission_rows_per_s": round(admitted / wall),
        "admission_client_cpu_s": round(cpu, 1),
        "admission_backend_cpu_s": round(backend, 1),
        "admission_rows_per_cpu_s": round(admitted / max(0.001, cpu + backend)),
        # The first step also fills the queue; a growing tail would mean steps slow down.
        "step_wall_s_first_median_last": [
            round(x, 2) for x in (steps[0], sorted(steps)[len(steps) // 2], steps[-1])
        ]
        if steps
        else [],
    }


def run_workers(url: str, workers: int, batch: int) -> dict[str, Any]:
    env = {
        **os.environ,
        "RENRAKU_DB": url,
        "RENRAKU_CLOCK__MODE": "virtual",
        "RENRAKU_CLOCK__VIRTUAL_START": START,
        "RENRAKU_JOURNEYS__RECORD_CHANNELS": CHANNELS,
        "RENRAKU_JOURNEYS__BATCH_SIZE": str(batch),
    }
    cmd = [
        sys.executable,
        "-c",
        "from renraku.cli import main; main()",
        "worker",
        "--run-for",
        "1d",
        "--json",
    ]
    started = time.perf_counter()
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(workers)
    ]
    peak = 0
    watched = [psutil.Process(p.pid) for p in procs]
    while any(p.poll() is None for p in procs):
        for w in watched:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, w.memory_info().rss)
        time.sleep(0.2)
    wall = time.perf_counter() - started
    outs = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"worker failed: {err.decode()[-2000:]}")
        outs.append(json.loads(out))
    steps = sum(o["Steps"] for o in outs)
    # Work time: from the first worker's start of work to the last one's end (import excluded).
    work = max(o["Seconds"] for o in outs)
    return {
        "workers": workers,
        "wall_s": round(wall, 1),
        "work_s": round(work, 1),
        "steps": steps,
        "sends": sum(o["Sends"] for o in outs),
        "steps_per_s": round(steps / work, 0),
        "worker_cpu_s": round(sum(o["CpuSeconds"] for o in outs), 1),
        "steps_per_cpu_s": round(steps / max(0.001, sum(o["CpuSeconds"] for o in outs)), 0),
        "peak_worker_rss_mb": round(peak / 2**20, 1),
        "lateness_p99_s": max(o["LatenessP99Seconds"] for o in outs),
    }


def check(url: str, app_id: str, users: int, pressed: int) -> dict[str, int]:
    engine = create_engine(normalise_url(url))
    with engine.connect() as conn:
        by_channel = dict(
            conn.execute(
                select(recording.recorded_deliveries.c.channel, func.count()).group_by(
                    recording.recorded_deliveries.c.channel
                )
            ).all()
        )
        unfinished = conn.execute(
            select(func.count())
            .select_from(participants)
            .where(participants.c.status != "FINISHED")
        ).scalar_one()
        dupes = conn.execute(
            text(
                "select count(*) from (select key from recorded_deliveries group by key having count(*) > 1) d"
            )
        ).scalar_one()
    engine.dispose()
    expected = {"VOICE": users, "SMS": users - pressed, "EMAIL": users - pressed}
    got = {k: int(by_channel.get(k, 0)) for k in expected}
    if got != expected or unfinished or dupes:
        raise SystemExit(
            f"wrong outcome: {got} expected {expected}; unfinished {unfinished}; dupes {dupes}"
        )
    return got


def update_floor(url: str, app_id: str, journey_id: str, batch: int) -> float:
    """Rows per second of a raw batched UPDATE of the same participant rows: the statement the
    worker uses to save participants (unnest arrays on PostgreSQL, executemany on SQLite), in
    transactions of ``batch`` rows, with no claiming, reading or stepping."""
    engine = create_engine(normalise_url(url))
    with engine.connect() as conn:
        keys = [
            r[0]
            for r in conn.execute(
                select(participants.c.pkey).where(participants.c.journey_id == journey_id)
            )
        ]
    fields = ("activity_id", "phase", "status", "wake_at", "attempt", "activity_at", "data")
    started = time.perf_counter()
    for lo in range(0, len(keys), batch):
        rows = [
            {
                "app_id": app_id,
                "journey_id": journey_id,
                "pkey": k,
                "activity_id": "end",
                "phase": "done",
                "status": "FINISHED",
                "wake_at": None,
                "attempt": 0,
                "activity_at": START,
                "data": {},
            }
            for k in keys[lo : lo + batch]
        ]
        with engine.begin() as conn:
            update_by_key(conn, participants, ("app_id", "journey_id", "pkey"), fields, rows)
    rate = len(keys) / (time.perf_counter() - started)
    engine.dispose()
    return round(rate, 0)


FAR = "2027-12-31T00:00:00.000Z"


def park(url: str, journey_id: str) -> None:
    """Put every participant of the journey back in the second wait, due a year later."""
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(
            update(participants)
            .where(participants.c.journey_id == journey_id)
            .values(
                status="ACTIVE", activity_id="w2", phase="wait", wake_at=FAR, data={"until": FAR}
            )
        )
    engine.dispose()


def fill_waiting(url: str, app_id: str, journey_id: str, n: int) -> dict[str, Any]:
    """Add ``n`` participants waiting in the second wait until a year later (keys ``u:W<i>``,
    after the real users' ``u:U<i>``), set-based: one INSERT ... SELECT over a generated series."""
    engine = create_engine(normalise_url(url))
    t0 = time.perf_counter()
    if engine.dialect.name == "postgresql":
        series = "generate_series(1, :n) AS g(i)"
        data = "CAST(:data AS jsonb)"
        prefix = ""
    else:
        series = "g"
        data = ":data"
        prefix = "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n) "
    stmt = text(
        f"{prefix}INSERT INTO participants (app_id, journey_id, pkey, user_id, endpoint_id, "
        "version, entry, activity_id, phase, status, wake_at, attempt, entered_at, activity_at, "
        "data) "
        f"SELECT :app, :journey, 'u:W' || i, 'W' || i, NULL, 1, 1, 'w2', 'wait', 'ACTIVE', :far, "
        f"0, :start, :start, {data} FROM {series}"
    )
    params = {
        "n": n,
        "app": app_id,
        "journey": journey_id,
        "far": FAR,
        "start": START,
        "data": json.dumps({"until": FAR}),
    }
    with engine.begin() as conn:
        conn.execute(stmt, params)
    with engine.connect() as conn:
        conn.execute(
            text("ANALYZE participants" if engine.dialect.name == "postgresql" else "ANALYZE")
        )
        conn.commit()
    engine.dispose()
    return {"waiting": n, "waiting_insert_s": round(time.perf_counter() - t0, 1)}


def explain_claim(url: str) -> list[str]:
    """The plans of the claim statement and of the next-wake look-up, with a million waiting
    (PostgreSQL: EXPLAIN ANALYZE, run in a rolled-back transaction; SQLite: EXPLAIN QUERY PLAN)."""
    engine = create_engine(normalise_url(url))
    soon = iso(datetime.now(UTC))
    claim = (
        select(participants)
        .where(and_(participants.c.status == "ACTIVE", participants.c.wake_at <= soon))
        .order_by(participants.c.wake_at)
        .limit(1000)
    )
    nxt = select(func.min(participants.c.wake_at)).where(participants.c.status == "ACTIVE")
    out: list[str] = []
    with engine.connect() as conn:
        pg = engine.dialect.name == "postgresql"
        for stmt in (claim.with_for_update(skip_locked=True) if pg else claim, nxt):
            sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
            how = "EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN "
            out.append(sql.replace("\n", " "))
            out += ["  " + str(r[-1]) for r in conn.execute(text(how + sql))]
        conn.rollback()
    engine.dispose()
    return out


def trickle_lateness(
    url: str, app_id: str, journey_id: str, due: int, spread_s: float
) -> dict[str, Any]:
    """Scheduling lateness on the real clock with everyone waiting (see :func:`park`):
    ``due`` participants (the first real users by key) are made due one after another over
    ``spread_s`` seconds; a real-clock worker's p99 (step time - due time) is reported.
    (Their sends were made in the main run: the ledger keeps them from being handed over again.)

    The due times are written by primary key before the first of them: written by journey and
    participant key alone, each update scanned the table on SQLite and the last ones landed after
    their due time, which the first version of this measurement reported as lateness."""
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        keys = [
            r[0]
            for r in conn.execute(
                select(participants.c.pkey)
                .where(participants.c.journey_id == journey_id)
                .order_by(participants.c.pkey)
                .limit(due)
            )
        ]
    start = time.time() + 30.0  # the worker process starts meanwhile (imports take seconds)
    stmt = (
        update(participants)
        .where(
            and_(
                participants.c.app_id == app_id,
                participants.c.journey_id == journey_id,
                participants.c.pkey == bindparam("k"),
            )
        )
        .values(wake_at=bindparam("w"), data=bindparam("d"))
    )
    rows = []
    for i, k in enumerate(keys):
        at = iso(datetime.fromtimestamp(start + spread_s * i / max(1, len(keys)), UTC))
        rows.append({"k": k, "w": at, "d": {"until": at}})
    with engine.begin() as conn:
        conn.execute(stmt, rows)
    engine.dispose()
    if time.time() > start - 15.0:
        raise SystemExit("trickle: writing the due times took too long to measure lateness")
    env = {
        **os.environ,
        "RENRAKU_DB": url,
        "RENRAKU_CLOCK__MODE": "real",
        "RENRAKU_JOURNEYS__RECORD_CHANNELS": CHANNELS,
        "RENRAKU_JOURNEYS__IDLE_SLEEP_SECONDS": "0.1",
    }
    cmd = [
        sys.executable,
        "-c",
        "from renraku.cli import main; main()",
        "worker",
        "--run-for",
        f"{int(spread_s + 36)}s",
        "--json",
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, check=True).stdout
    result = json.loads(out)
    return {
        "trickle_due": due,
        "trickle_claimed": result["Claimed"],
        "trickle_lateness_p99_s": result["LatenessP99Seconds"],
    }


def fresh_db(kind: str, tmp: Path) -> tuple[str, Any]:
    if kind == "sqlite":
        path = tmp / f"bench-{uuid.uuid4().hex[:6]}.db"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    base = os.environ.get("RENRAKU_TEST_POSTGRES_URL", PG_DEFAULT)
    schema = "jb_" + uuid.uuid4().hex[:10]
    admin = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", drop


def _full(url: str, kind: str, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    """The journey run: load, workers to the end, exact check, raw UPDATE floor, trickle."""
    t0 = time.perf_counter()
    app_id, journey_id, pressed = setup(url, args.users, args.pressed_every, args.batch)
    load_s = time.perf_counter() - t0
    result = run_workers(url, workers, args.batch)
    sent = check(url, app_id, args.users, pressed)
    result.update(
        db=kind,
        users=args.users,
        pressed=pressed,
        load_s=round(load_s, 1),
        delivered=sent,
        update_floor_rows_per_s=update_floor(url, app_id, journey_id, args.batch),
    )
    if workers == 1:
        park(url, journey_id)
        result.update(trickle_lateness(url, app_id, journey_id, args.trickle, 20.0))
    return result


def _admission(url: str, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """Load ``--users`` users, publish, and time the segment entry alone."""
    t0 = time.perf_counter()
    _, journey_id, _ = setup(url, args.users, args.pressed_every, args.batch)
    result: dict[str, Any] = {"db": kind, "users": args.users}
    result["load_s"] = round(time.perf_counter() - t0, 1)
    result.update(admission(url, journey_id))
    return result


def _waiting(url: str, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """Trickle lateness with ``--waiting`` participants waiting far in the future: ``--trickle``
    real users are loaded and admitted, the rest are inserted as waiting rows."""
    t0 = time.perf_counter()
    app_id, journey_id, _ = setup(url, args.trickle, args.pressed_every, args.batch)
    admission(url, journey_id)
    park(url, journey_id)
    result: dict[str, Any] = {"db": kind, "users": args.trickle}
    result.update(fill_waiting(url, app_id, journey_id, args.waiting))
    result["load_s"] = round(time.perf_counter() - t0, 1)
    result.update(trickle_lateness(url, app_id, journey_id, args.trickle, 20.0))
    result["plans"] = explain_claim(url)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--mode",
        choices=["full", "admission", "waiting"],
        default="full",
        help="full: the journey run; admission: the segment entry alone; waiting: trickle "
        "lateness with --waiting participants waiting",
    )
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument(
        "--pressed-every", type=int, default=4, help="every k-th user presses 1 (default 4: 25%%)"
    )
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    ap.add_argument(
        "--trickle", type=int, default=2000, help="participants made due one by one (lateness)"
    )
    ap.add_argument("--waiting", type=int, default=1_000_000, help="waiting participants (waiting)")
    ap.add_argument("--workers", type=int, nargs="*", help="PostgreSQL worker counts (default 1 2)")
    args = ap.parse_args()
    runs: list[tuple[str, int]] = []
    if args.only in (None, "sqlite"):
        runs.append(("sqlite", 1))
    if args.only in (None, "postgresql"):
        runs += [("postgresql", w) for w in (args.workers or [1, 2])]
    if args.mode != "full":
        runs = [(kind, 1) for kind in dict(runs)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, workers in runs:
            url, drop = fresh_db(kind, Path(tmp))
            try:
                if args.mode == "admission":
                    result = _admission(url, kind, args)
                elif args.mode == "waiting":
                    result = _waiting(url, kind, args)
                else:
                    result = _full(url, kind, workers, args)
                results.append(result)
                print(json.dumps(result), flush=True)
            finally:
                drop()
    if args.mode == "full":
        _table(results)


def _table(results: list[dict[str, Any]]) -> None:
    print(
        "\n| db | workers | users | steps | work s | steps/s | steps/CPU-s | sends | peak RSS MB | p99 burst lateness s | p99 trickle lateness s | raw UPDATE rows/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['db']} | {r['workers']} | {r['users']:,} | {r['steps']:,} | {r['work_s']} | {r['steps_per_s']:,.0f} | {r['steps_per_cpu_s']:,.0f} "
            f"| {r['sends']:,} | {r['peak_worker_rss_mb']} | {r['lateness_p99_s']} "
            f"| {r.get('trickle_lateness_p99_s', '-')} | {r['update_floor_rows_per_s']:,.0f} |"
        )


if __name__ == "__main__":
    main()
