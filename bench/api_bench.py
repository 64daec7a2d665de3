"""HTTP API benchmark: UpdateEndpoint and GetUserEndpoints against `renraku serve`.

The server runs as a subprocess (``renraku serve --workers W``) on PostgreSQL (a private schema,
dropped afterwards) or SQLite. The load generator is a separate process: ``--requests`` requests,
each signed with SigV4 by botocore (as boto3 signs) or, with ``--auth bearer``, carrying a bearer
token, are prepared before the run; then a plain HTTP/1.1 client on asyncio keeps
``--concurrency`` of them in flight over loopback. It reports requests/s, p50/p99 latency and
errors per operation, the server's CPU per request, the CPU of the server's PostgreSQL backends
per request (found by application name; PostgreSQL on this machine) and the load generator's own
CPU.

Usage: ``python bench/api_bench.py [--duration 30] [--concurrency 32] [--workers 2]
[--op update|get|events|mixed|all] [--auth sigv4|bearer] [--requests N] [--db URL] [--json]``.
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


OPS = {"update": "UpdateEndpoint", "get": "GetUserEndpoints", "events": "PutEvents"}
MIXES = {"mixed": ("update", "get"), "all": ("update", "events", "get")}


def events_body(user: str) -> bytes:
    """A PutEvents body: one event for the user's email endpoint (the soak's shape)."""
    events = {
        "BatchItem": {
            f"{user}-email": {
                "Endpoint": {"ChannelType": "EMAIL", "Address": f"{user}@example.com"},
                "Events": {
                    uuid.uuid4().hex: {
                        "EventType": "soak.ping",
                        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    }
                },
            }
        }
    }
    return json.dumps(events).encode()


def request_for(
    op: str, app_id: str, user: str, attributes: dict[str, list[str]]
) -> tuple[str, str, bytes]:
    """Method, path and body of one ``op`` (get, events, else UpdateEndpoint) for ``user``."""
    if op == "get":
        return "GET", f"/v1/apps/{app_id}/users/{user}", b""
    if op == "events":
        return "POST", f"/v1/apps/{app_id}/events", events_body(user)
    body = {
        "ChannelType": "EMAIL",
        "Address": f"{user}@example.com",
        "User": {"UserId": user},
        "Attributes": attributes,
        # Distinct bodies: two identical signed PUTs in one second would be refused as a replay.
        "RequestId": uuid.uuid4().hex,
    }
    return "PUT", f"/v1/apps/{app_id}/endpoints/{user}-email", json.dumps(body).encode()


def _request(op: str, app_id: str, n: int) -> tuple[str, str, bytes]:
    status = random.choice(["Pending", "COMPLETED", "CANCELED"])
    return request_for(op, app_id, f"user{n % USERS}", {"CallStatus": [status]})


Prepared = tuple[str, bytes]  # operation, the whole HTTP/1.1 request


def _prepare(config: dict[str, Any], first: int, count: int) -> list[Prepared]:
    """``count`` requests, each signed by botocore's SigV4Auth exactly as boto3 signs them.

    Signing happens before the clock starts, so the load generator's CPU goes to sending.
    """
    url, app_id, key = config["url"], config["app_id"], config["key"]
    host = url.split("://", 1)[1]
    creds = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    bearer = f"Bearer {key['AccessKeyId']}.{key['SecretAccessKey']}"
    out: list[Prepared] = []
    for n in range(first, first + count):
        mix = MIXES.get(config["op"], (config["op"],))
        op = mix[n % len(mix)]
        method, path, body = _request(op, app_id, n)
        headers = {"Content-Type": "application/json"}
        if config["auth"] == "sigv4":
            signed = AWSRequest(method=method, url=url + path, data=body, headers=headers)
            SigV4Auth(creds, "mobiletargeting", "us-east-1").add_auth(signed)
            headers = dict(signed.headers.items())
        else:
            headers["Authorization"] = bearer
        headers["Host"] = host
        headers["Content-Length"] = str(len(body))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        out.append((op, head.encode("latin-1") + b"\r\n" + body))
    return out


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Send one request on a kept-alive connection; the response's status (body read whole)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"transfer-encoding":
            raise ValueError("chunked responses are not expected from this server")
    if length:
        await reader.readexactly(length)
    return status


async def _drive(config: dict[str, Any], prepared: list[Prepared]) -> dict[str, Any]:
    """Send ``prepared`` over ``--concurrency`` kept-alive connections until the duration ends.

    A plain HTTP/1.1 client on asyncio streams: a general client (httpx) spends more CPU per
    request than the server under test, on the same two cores.
    """
    host, port = config["url"].split("://", 1)[1].rsplit(":", 1)
    latencies: dict[str, list[float]] = {op: [] for op in OPS}
    errors: dict[str, dict[str, int]] = {op: {} for op in OPS}
    # Signed while sending (runs longer than the clock-skew window) or before the run.
    live = (_prepare(config, n, 1)[0] for n in range(config["requests"]))
    queue = live if config.get("sign_live") else iter(prepared)
    deadline = time.perf_counter() + config["duration"]
    exhausted = False

    async def worker() -> None:
        nonlocal exhausted
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < deadline:
                item = next(queue, None)
                if item is None:
                    exhausted = True
                    return
                op, request = item
                started = time.perf_counter()
                try:
                    status = str(await _exchange(reader, writer, request))
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    status = type(exc).__name__
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                elapsed = time.perf_counter() - started
                expected = {"update": ("202",), "events": ("202",)}.get(op, ("200", "404"))
                if status in expected:
                    latencies[op].append(elapsed)
                else:
                    errors[op][status] = errors[op].get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(config["concurrency"])))
    wall = time.perf_counter() - started
    out: dict[str, Any] = {"seconds": round(wall, 2)}
    if exhausted:
        out["note"] = "ran out of prepared requests before the duration ended (raise --requests)"
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


def _prepare_chunk(args: tuple[dict[str, Any], int, int]) -> list[Prepared]:
    return _prepare(*args)


def _prepare_all(config: dict[str, Any]) -> list[Prepared]:
    """Sign ``config["requests"]`` requests, on every core (before the measured run)."""
    total, procs = config["requests"], os.cpu_count() or 1
    step = -(-total // procs)
    chunks = [(config, first, min(step, total - first)) for first in range(0, total, step)]
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        return [item for chunk in pool.map(_prepare_chunk, chunks) for item in chunk]


def _run(config: dict[str, Any], prepared: list[Prepared]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(_drive(config, prepared))
    return uvloop.run(_drive(config, prepared))


def _loadgen(config: dict[str, Any], queue: Any) -> None:
    prepared = [] if config.get("sign_live") else _prepare_all(config)
    queue.put("ready")
    cpu = time.process_time()
    result = _run(config, prepared)
    result["loadgen_cpu_seconds"] = round(time.process_time() - cpu, 2)
    queue.put(result)


def _start_profiler(out: str | None, pid: int, duration: float) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the server (and its worker processes) for the run, when asked for."""
    if out is None:
        return None
    spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen(
        [str(spy), "record", "--subprocesses", "--format", "raw", "--output", out,
         "--pid", str(pid), "--duration", str(max(1, int(duration) - 1)), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def load_config(url: str, app_id: str, key: dict[str, Any], args: Any) -> dict[str, Any]:
    """What the load generator needs: the server, the key, and the run's options from ``args``."""
    return {
        "url": url,
        "app_id": app_id,
        "key": key,
        "duration": args.duration,
        "concurrency": args.concurrency,
        "op": getattr(args, "op", "all"),
        "auth": getattr(args, "auth", "sigv4"),
        "requests": args.requests,
    }


def start_loadgen(config: dict[str, Any]) -> tuple[Any, Any]:
    """The load generator process, started and ready (its requests signed); and its queue,
    which gives the result when the run ends."""
    queue: Any = multiprocessing.get_context("spawn").Queue()
    loadgen = multiprocessing.get_context("spawn").Process(target=_loadgen, args=(config, queue))
    loadgen.start()
    if queue.get() != "ready":
        raise SystemExit("the load generator failed")
    return loadgen, queue


def _prepare_db(db: str | None) -> tuple[str, str | None]:
    if db:
        return db, None
    schema = "api_bench_" + uuid.uuid4().hex[:8]
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in PG_URL else "?"
    # The application name marks the server's own PostgreSQL backends (their CPU is measured).
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}&application_name={schema}", schema


def backend_cpu(schema: str | None, seen: dict[int, float]) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving ``schema``'s server (by application
    name), added to ``seen`` (backends that ended keep their last reading). Needs the database
    on this machine and permission to read its processes' /proc entries."""
    if schema is None:
        return seen
    admin = create_engine(normalise_url(PG_URL))
    with admin.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
            {"name": schema},
        ).scalars()
        out = dict(seen)
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[int(pid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    admin.dispose()
    return out


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
    parser.add_argument("--op", choices=[*OPS, *MIXES], default="update")
    parser.add_argument("--auth", choices=["sigv4", "bearer"], default="sigv4")
    parser.add_argument(
        "--requests",
        type=int,
        default=150_000,
        help="requests signed before the run (the run ends early if they run out)",
    )
    parser.add_argument(
        "--profile",
        help="record the server with py-spy (if installed) into this file (collapsed stacks)",
    )
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
        deadline = time.monotonic() + 240
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
        config = load_config(url, app_id, key, args)
        if args.op != "update":
            # Users must exist for GetUserEndpoints to find them: one quick update pass first.
            warm = dict(config, op="update", duration=60.0)
            _run(warm, _prepare(warm, 0, USERS))
        tree = psutil.Process(server.pid)
        loadgen, queue = start_loadgen(config)
        cpu_before = _cpu_seconds(tree)
        pg_before = backend_cpu(schema, {})
        profiler = _start_profiler(args.profile, server.pid, args.duration)
        result = queue.get()
        loadgen.join()
        server_cpu = _cpu_seconds(tree) - cpu_before
        pg_after = backend_cpu(schema, pg_before)
        pg_cpu = sum(pg_after.values()) - sum(pg_before.values())
        if profiler is not None:
            profiler.wait(timeout=120)
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
    served = sum(report[op]["requests"] for op in OPS if op in report)
    if served:
        # Load-independent: server CPU per request, and what that allows per dedicated core.
        report["server_cpu_ms_per_request"] = round(server_cpu / served * 1000, 2)
        report["requests_per_server_cpu_second"] = round(served / server_cpu, 1)
        if pg_after:
            report["postgresql_cpu_ms_per_request"] = round(pg_cpu / served * 1000, 3)
        report["load_average"] = [round(x, 1) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['database']}, {args.workers} server worker(s), concurrency {args.concurrency}, "
          f"{args.auth}, {report['seconds']} s")  # fmt: skip
    for op, name in OPS.items():
        if op in report:
            r = report[op]
            print(f"  {name:17} {r['per_second']:>8.1f} req/s  p50 {r['p50_ms']:>7.2f} ms  "
                  f"p99 {r['p99_ms']:>7.2f} ms  errors {r['errors'] or 0}")  # fmt: skip
    if "server_cpu_ms_per_request" in report:
        print(f"  server CPU {report['server_cpu_ms_per_request']} ms/request "
              f"({report['requests_per_server_cpu_second']} requests per CPU-second); "
              f"load average {report['load_average']}")  # fmt: skip
        if "postgresql_cpu_ms_per_request" in report:
            print(f"  PostgreSQL backend CPU {report['postgresql_cpu_ms_per_request']} ms/request")
        print(f"  load generator CPU {report['loadgen_cpu_seconds']} s")


if __name__ == "__main__":
    main()
