"""Soak: the HTTP API under sustained load while two workers run a large journey.

On PostgreSQL (a private schema, dropped afterwards): ``--users`` users (SMS + EMAIL endpoints,
recorded providers) enter a journey SMS -> wait 1 hour -> EMAIL on an accelerated clock
(``--time-scale``), run by ``renraku worker --processes 2``; meanwhile ``renraku serve`` takes UpdateEndpoint, PutEvents and
GetUserEndpoints (SigV4 signed, ``--concurrency`` in flight over loopback) for ``--duration``
seconds. Every ``--interval`` seconds it reports API p99 per operation, participants finished
(worker throughput), resident memory of the server and the workers, and errors. At the end:
memory growth from the first to the last quarter, the workers' lateness p99, and whether every
message reached its provider exactly once.

Usage: ``python bench/soak.py [--duration 600] [--users 100000] [--interval 30]
[--concurrency 16] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bench import RENRAKU, _drop_schema, _free_port, _percentile, _prepare_db, request_for
from renraku.api import keyring
from renraku.app import build_app
from renraku.channels import recording
from renraku.domain.endpoints import Endpoint
from renraku.services import journeys
from renraku.settings import load_settings
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store
from renraku.store import templates as template_store
from renraku.store.participants import participants
from renraku.store.sends import sends

START = "2026-03-05T01:00:00.000Z"
OPS = ("update", "events", "get")


def _seed(db: str, tmp: Path, users: int) -> tuple[str, dict[str, str]]:
    settings = load_settings(
        db=db,
        server={"master_key_file": str(tmp / "master.key")},
        clock={"mode": "virtual", "virtual_start": START},
    )
    app = build_app(settings)
    try:
        now = app.now_iso()
        with app.store.begin() as conn:
            app_id = app_store.create_app(conn, "soak", now=now)["Id"]
            template_store.put(conn, app_id, "soak-sms", "SMS", {"Body": "Hello"}, now=now)
            template_store.put(
                conn, app_id, "soak-email", "EMAIL", {"Subject": "Hi", "TextPart": "Hi"}, now=now
            )
            seg = segment_store.import_segment_for(
                conn, app_id, "soak", now=now, import_definition={"Format": "CSV"}
            )
        for lo in range(0, users, 5000):
            eps = [
                Endpoint(
                    app_id=app_id,
                    id=f"s{i}-{ch}",
                    channel_type=ch,
                    address=f"+8190{i:08d}" if ch == "SMS" else f"s{i}@example.com",
                    user_id=f"s{i}",
                    creation_date=now,
                    effective_date=now,
                )
                for i in range(lo, min(users, lo + 5000))
                for ch in ("SMS", "EMAIL")
            ]
            with app.store.begin() as conn:
                endpoint_store.upsert_many(conn, eps)
                segment_store.add_members(conn, app_id, seg, [e.id for e in eps])
        definition = {
            "Name": "soak",
            "StartCondition": {"SegmentStartCondition": {"SegmentId": seg}},
            "StartActivity": "sms",
            "Activities": {
                "sms": {"SMS": {"TemplateName": "soak-sms", "NextActivity": "wait"}},
                "wait": {"Wait": {"WaitTime": {"WaitFor": "PT1H"}, "NextActivity": "email"}},
                "email": {
                    "EMAIL": {
                        "TemplateName": "soak-email",
                        "MessageConfig": {"FromAddress": "info@example.com"},
                        "NextActivity": "done",
                    }
                },
                "done": {"End": {}},
            },
        }
        jid = journeys.create(app, app_id, definition)["Id"]
        journeys.publish(app, app_id, jid)
        key = keyring.create_key(app, app_id)
    finally:
        app.close()
    return app_id, key


def _request(op: str, app_id: str, users: int) -> tuple[str, str, bytes]:
    user = f"api{random.randrange(users)}"  # API users are apart from the journey's
    return request_for(op, app_id, user, {"Plan": [random.choice(["A", "B", "C"])]})


async def _load(
    url: str, app_id: str, key: dict[str, str], args: argparse.Namespace, window: dict[str, Any]
) -> None:
    creds = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    deadline = time.perf_counter() + args.duration
    counter = 0

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal counter
        while time.perf_counter() < deadline:
            counter += 1
            op = OPS[counter % 3]
            method, path, body = _request(op, app_id, 5000)
            signed = AWSRequest(
                method=method,
                url=url + path,
                data=body,
                headers={"Content-Type": "application/json"},
            )
            SigV4Auth(creds, "mobiletargeting", "us-east-1").add_auth(signed)
            started = time.perf_counter()
            try:
                response = await client.request(
                    method, path, content=body, headers=dict(signed.headers.items())
                )
                status = response.status_code
                ok = status in ((200, 404) if op == "get" else (200, 202))
            except httpx.HTTPError as exc:
                status, ok = type(exc).__name__, False  # type: ignore[assignment]
            if ok:
                window["lat"][op].append(time.perf_counter() - started)
            else:
                window["errors"][f"{op}:{status}"] = window["errors"].get(f"{op}:{status}", 0) + 1

    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(one(client) for _ in range(args.concurrency)))


def _restart_postgres() -> None:
    """Restart the local cluster (Debian's pg_ctlcluster), as a server crash or failover would."""
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        timeout=120,
    )


def _rss_mb(pid: int) -> float:
    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20
    except psutil.NoSuchProcess:
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of API load")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--restart-postgres",
        action="store_true",
        help="restart the local PostgreSQL server half-way (pg_ctlcluster; disturbs other users)",
    )
    parser.add_argument("--time-scale", type=float, default=60.0, help="journey seconds per second")
    parser.add_argument("--db", help="database URL (default: a private PostgreSQL schema)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="renraku-soak-"))
    db, schema = _prepare_db(args.db)
    seeded = time.perf_counter()
    app_id, key = _seed(db, tmp, args.users)
    seed_seconds = time.perf_counter() - seeded
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENRAKU_")}
    env.update(
        RENRAKU_DB=db,
        RENRAKU_SERVER__MASTER_KEY_FILE=str(tmp / "master.key"),
        RENRAKU_SERVER__THROTTLE_RATE="1000000",
        RENRAKU_SERVER__THROTTLE_BURST="1000000",
        # Journey time runs --time-scale times faster than the wall clock (60: the journey's one
        # hour wait passes in a minute), the same for every process.
        RENRAKU_CLOCK__MODE="accelerated",
        RENRAKU_CLOCK__TIME_SCALE=str(args.time_scale),
        RENRAKU_JOURNEYS__RECORD_CHANNELS='["SMS","EMAIL"]',
    )
    port = _free_port()
    logs = (tmp / "serve.log").open("w"), (tmp / "worker.log").open("w")
    server = subprocess.Popen(
        [RENRAKU, "serve", "--port", str(port), "--workers", "1", "--log-level", "warning"],
        env=env, stdout=logs[0], stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    settings = load_settings(db=db, clock={"mode": "virtual", "virtual_start": START})
    watch = build_app(settings, migrate=False)
    workers: subprocess.Popen[bytes] | None = None
    windows: list[dict[str, Any]] = []
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        workers = subprocess.Popen(
            [RENRAKU, "worker", "--processes", "2", "--json"],
            env=env, stdout=subprocess.PIPE, stderr=logs[1],
        )  # fmt: skip
        window: dict[str, Any] = {"lat": {op: [] for op in OPS}, "errors": {}}

        async def run() -> None:
            load = asyncio.create_task(_load(url, app_id, key, args, window))
            started = time.perf_counter()
            restarted = not args.restart_postgres
            while not load.done():
                await asyncio.sleep(min(args.interval, 1.0))
                if not restarted and time.perf_counter() - started > args.duration / 2:
                    restarted = True
                    await asyncio.to_thread(_restart_postgres)
                    windows.append({"t": round(time.perf_counter() - started), "event": "restart"})
                if time.perf_counter() - started < args.interval * (len(windows) + 1):
                    continue
                with watch.store.connect() as conn:
                    finished = conn.execute(
                        select(func.count())
                        .select_from(participants)
                        .where(participants.c.status == "FINISHED")
                    ).scalar_one()
                lat = {op: sorted(v) for op, v in window["lat"].items()}
                windows.append(
                    {
                        "t": round(time.perf_counter() - started),
                        "p99_ms": {
                            op: round(_percentile(v, 0.99) * 1000, 1) for op, v in lat.items()
                        },
                        "requests": sum(len(v) for v in lat.values()),
                        "errors": dict(window["errors"]),
                        "finished": int(finished),
                        "server_mb": round(_rss_mb(server.pid), 1),
                        "workers_mb": round(_rss_mb(workers.pid), 1) if workers else 0.0,
                    }
                )
                if not args.json:
                    print(json.dumps(windows[-1]), flush=True)
                window["lat"] = {op: [] for op in OPS}
                window["errors"] = {}
            await load

        asyncio.run(run())
        workers.send_signal(signal.SIGTERM)
        out, _ = workers.communicate(timeout=120)
        worker_report = json.loads(out)
        with watch.store.connect() as conn:
            finished = conn.execute(
                select(func.count())
                .select_from(participants)
                .where(participants.c.status == "FINISHED")
            ).scalar_one()
            ledger = conn.execute(select(func.count()).select_from(sends)).scalar_one()
            handed = recording.delivery_counts(conn)
    finally:
        if workers is not None and workers.poll() is None:
            workers.kill()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        watch.close()
        for log in logs:
            log.close()
        _drop_schema(schema)
    marks = [w for w in windows if "event" in w]
    windows = [w for w in windows if "event" not in w]
    quarter = max(1, len(windows) // 4)
    first = windows[:quarter]
    last = windows[-quarter:]

    def avg(rows: list[dict[str, Any]], k: str) -> float:
        return sum(r[k] for r in rows) / len(rows) if rows else 0.0

    report = {
        "users": args.users,
        "seed_seconds": round(seed_seconds, 1),
        "duration_seconds": args.duration,
        "concurrency": args.concurrency,
        "windows": windows,
        "marks": marks,
        "participants_finished": int(finished),
        "finished_per_second": round(finished / args.duration, 1),
        "worker_steps": worker_report.get("Steps"),
        "time_scale": args.time_scale,
        "worker_lateness_p99_journey_s": max(
            (p.get("LatenessP99Seconds", 0.0) for p in worker_report.get("Processes", [])),
            default=0.0,
        ),
        "worker_restarts": worker_report.get("Restarts"),
        "server_mb_growth": round(avg(last, "server_mb") - avg(first, "server_mb"), 1),
        "workers_mb_growth": round(avg(last, "workers_mb") - avg(first, "workers_mb"), 1),
        "api_errors": sum(sum(w["errors"].values()) for w in windows),
        "sends_recorded": int(ledger),
        "sends_per_second": round(int(ledger) / args.duration, 1),
        "sends_handed_more_than_once": sum(1 for n in handed.values() if n > 1),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
