"""HTTP API benchmark: UpdateEndpoint and GetUserEndpoints against `renraku serve`.

The server runs as a subprocess (``renraku serve --workers W``) on PostgreSQL (a private schema,
dropped afterwards) or SQLite. The load generator is a separate process: asyncio + httpx with
``--concurrency`` requests in flight over loopback, each signed with SigV4 by botocore (as boto3
signs) or, with ``--auth bearer``, sent with a bearer token. It reports requests/s, p50/p99
latency and errors per operation.

Usage: ``python bench/api_bench.py [--duration 30] [--concurrency 32] [--workers 2]
[--op update|get|mixed] [--auth sigv4|bearer] [--db URL] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sqlalchemy import create_engine, text

from renraku.api import keyring
from renraku.app import build_app
from renraku.settings import load_settings
from renraku.store import apps as app_store
from renraku.store.engine import normalise_url

PG_URL = os.environ.get("RENRAKU_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RENRAKU = str(Path(sys.executable).parent / "renraku")
USERS = 2000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(proc: psutil.Process) -> float:
    """User + system CPU of a process and its children (uvicorn's workers)."""
    total = 0.0
    for each in [proc, *proc.children(recursive=True)]:
        try:
            times = each.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def _request(op: str, app_id: str, n: int) -> tuple[str, str, bytes]:
    user = f"user{n % USERS}"
    if op == "get":
        return "GET", f"/v1/apps/{app_id}/users/{user}", b""
    body = {
        "ChannelType": "EMAIL",
        "Address": f"{user}@example.com",
        "User": {"UserId": user},
        "Attributes": {"CallStatus": [random.choice(["Pending", "COMPLETED", "CANCELED"])]},
        # Distinct bodies: two identical signed PUTs in one second would be refused as a replay.
        "RequestId": uuid.uuid4().hex,
    }
    return "PUT", f"/v1/apps/{app_id}/endpoints/{user}-email", json.dumps(body).encode()


async def _drive(config: dict[str, Any]) -> dict[str, Any]:
    url, app_id, key = config["url"], config["app_id"], config["key"]
    creds = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    bearer = f"Bearer {key['AccessKeyId']}.{key['SecretAccessKey']}"
    latencies: dict[str, list[float]] = {"update": [], "get": []}
    errors: dict[str, dict[str, int]] = {"update": {}, "get": {}}
    counter = 0
    deadline = time.perf_counter() + config["duration"]
    limits = httpx.Limits(
        max_connections=config["concurrency"], max_keepalive_connections=config["concurrency"]
    )

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal counter
        while time.perf_counter() < deadline:
            counter += 1
            op = config["op"] if config["op"] != "mixed" else ("update", "get")[counter % 2]
            method, path, body = _request(op, app_id, counter)
            headers = {"Content-Type": "application/json"}
            if config["auth"] == "sigv4":
                signed = AWSRequest(method=method, url=url + path, data=body, headers=headers)
                SigV4Auth(creds, "mobiletargeting", "us-east-1").add_auth(signed)
                headers = dict(signed.headers.items())
            else:
                headers["Authorization"] = bearer
            started = time.perf_counter()
            try:
                response = await client.request(method, path, content=body, headers=headers)
                status = str(response.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            elapsed = time.perf_counter() - started
            expected = "202" if op == "update" else ("200", "404")
            if status in expected:
                latencies[op].append(elapsed)
            else:
                errors[op][status] = errors[op].get(status, 0) + 1

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(config["concurrency"])))
        wall = time.perf_counter() - started
    out: dict[str, Any] = {"seconds": round(wall, 2)}
    for op, values in latencies.items():
        if not values and not errors[op]:
            continue
        values.sort()
        out[op] = {
            "requests": len(values),
            "per_second": round(len(values) / wall, 1),
            "p50_ms": round(_percentile(values, 0.50) * 1000, 2),
            "p99_ms": round(_percentile(values, 0.99) * 1000, 2),
            "errors": errors[op],
        }
    return out


def _loadgen(config: dict[str, Any], queue: Any) -> None:
    queue.put(asyncio.run(_drive(config)))


def _prepare_db(db: str | None) -> tuple[str, str | None]:
    if db:
        return db, None
    schema = "api_bench_" + uuid.uuid4().hex[:8]
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", schema


def _drop_schema(schema: str | None) -> None:
    if schema is None:
        return
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--op", choices=["update", "get", "mixed"], default="update")
    parser.add_argument("--auth", choices=["sigv4", "bearer"], default="sigv4")
    parser.add_argument("--db", help="database URL (default: a private PostgreSQL schema)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="renraku-api-bench-"))
    db, schema = _prepare_db(args.db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENRAKU_")}
    env["RENRAKU_DB"] = db
    env["RENRAKU_SERVER__MASTER_KEY_FILE"] = str(tmp / "master.key")
    # The benchmark measures capacity, so the per-key throttle is lifted out of the way.
    env["RENRAKU_SERVER__THROTTLE_RATE"] = "1000000"
    env["RENRAKU_SERVER__THROTTLE_BURST"] = "1000000"
    settings = load_settings(db=db, server={"master_key_file": str(tmp / "master.key")})
    app = build_app(settings)
    with app.store.begin() as conn:
        app_id = app_store.create_app(conn, "bench", now=app.now_iso())["Id"]
    key = keyring.create_key(app, app_id)
    app.close()

    port = _free_port()
    log = (tmp / "serve.log").open("w")
    server = subprocess.Popen(
        [RENRAKU, "serve", "--port", str(port), "--workers", str(args.workers),
         "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit((tmp / "serve.log").read_text())
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("renraku serve did not become ready")
            time.sleep(0.2)
        config = {
            "url": url,
            "app_id": app_id,
            "key": key,
            "duration": args.duration,
            "concurrency": args.concurrency,
            "op": args.op,
            "auth": args.auth,
        }
        if args.op == "get":
            # Users must exist for GetUserEndpoints to find them: one quick update pass first.
            warm = dict(config, op="update", duration=max(3.0, args.duration / 10))
            asyncio.run(_drive(warm))
        tree = psutil.Process(server.pid)
        cpu_before = _cpu_seconds(tree)
        queue: Any = multiprocessing.get_context("spawn").Queue()
        loadgen = multiprocessing.get_context("spawn").Process(
            target=_loadgen, args=(config, queue)
        )
        loadgen.start()
        result = queue.get()
        loadgen.join()
        server_cpu = _cpu_seconds(tree) - cpu_before
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        _drop_schema(schema)
    report = {
        "database": "postgresql" if db.startswith("postgres") else "sqlite",
        "server_workers": args.workers,
        "concurrency": args.concurrency,
        "auth": args.auth,
        **result,
    }
    served = sum(report[op]["requests"] for op in ("update", "get") if op in report)
    if served:
        # Load-independent: server CPU per request, and what that allows per dedicated core.
        report["server_cpu_ms_per_request"] = round(server_cpu / served * 1000, 2)
        report["requests_per_server_cpu_second"] = round(served / server_cpu, 1)
        report["load_average"] = [round(x, 1) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['database']}, {args.workers} server worker(s), concurrency {args.concurrency}, "
          f"{args.auth}, {report['seconds']} s")  # fmt: skip
    for op in ("update", "get"):
        if op in report:
            r = report[op]
            name = "UpdateEndpoint" if op == "update" else "GetUserEndpoints"
            print(f"  {name:17} {r['per_second']:>8.1f} req/s  p50 {r['p50_ms']:>7.2f} ms  "
                  f"p99 {r['p99_ms']:>7.2f} ms  errors {r['errors'] or 0}")  # fmt: skip
    if "server_cpu_ms_per_request" in report:
        print(f"  server CPU {report['server_cpu_ms_per_request']} ms/request "
              f"({report['requests_per_server_cpu_second']} requests per CPU-second); "
              f"load average {report['load_average']}")  # fmt: skip


if __name__ == "__main__":
    main()
