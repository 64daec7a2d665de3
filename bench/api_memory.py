"""Memory of the API server under sustained load: does it stay flat, and if not, what grows?

The server (``create_api``, as ``renraku serve`` runs it, on uvicorn) runs in this process, on
PostgreSQL (a private schema, dropped afterwards) or ``--db``. A separate load generator process
sends SigV4-signed UpdateEndpoint, PutEvents and GetUserEndpoints in equal shares (the soak's
mix, see ``bench/api_bench.py``) for ``--duration`` seconds. The report gives the resident memory
every ``--interval`` seconds and its growth after ``--warmup`` seconds. With ``--trace``,
:mod:`tracemalloc` follows Python's allocations: snapshots after the warm-up and at the end give
the traced growth per request and the ``--top`` allocation sites that grew most, with their
call stacks (memory outside Python's allocator, such as the C library's, is not traced).

Usage: ``python bench/api_memory.py [--duration 180] [--warmup 30] [--interval 15]
[--concurrency 8] [--top 8] [--clock-skew 300] [--trace] [--db URL] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import psutil
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bench import _drop_schema, _prepare_db, load_config, start_loadgen
from renraku.api import keyring
from renraku.api.server import create_api
from renraku.app import build_app
from renraku.settings import load_settings
from renraku.store import apps as app_store


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_api(app), log_level="warning", access_log=False, timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the API server did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def _rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def _sites(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int) -> list[Any]:
    """The allocation sites that grew most, each with its stack (innermost frame first)."""
    diff = after.compare_to(before, "traceback")
    out = []
    for stat in [s for s in diff if "tracemalloc" not in s.traceback[0].filename][:top]:
        frames = [f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}"
                  for frame in reversed(stat.traceback)]  # fmt: skip
        out.append(
            {"kib": round(stat.size_diff / 1024, 1), "blocks": stat.count_diff, "stack": frames}
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--warmup", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument(
        "--requests", type=int, default=10_000_000, help="stop after this many requests"
    )
    parser.add_argument(
        "--clock-skew",
        type=int,
        default=300,
        help="the server's clock_skew_seconds, which bounds how long the replay memory keeps "
        "a signature (a shorter one reaches the steady state sooner)",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="trace Python allocations (tracemalloc; slows the server) and name what grew",
    )
    parser.add_argument("--db", help="database URL (default: a private PostgreSQL schema)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="renraku-api-memory-"))
    db, schema = _prepare_db(args.db)
    settings = load_settings(
        db=db,
        server={
            "master_key_file": str(tmp / "master.key"),
            "throttle_rate": 1_000_000,
            "throttle_burst": 1_000_000,
            "clock_skew_seconds": args.clock_skew,
        },
    )
    app = build_app(settings)
    samples: list[dict[str, float]] = []
    try:
        with app.store.begin() as conn:
            app_id = app_store.create_app(conn, "memory", now=app.now_iso())["Id"]
        key = keyring.create_key(app, app_id)
        if args.trace:
            tracemalloc.start(8)
        server, thread, url = _serve(app)
        # The soak's mix (--op all), signed while sending: a run may outlast the skew window.
        config = {**load_config(url, app_id, key, args), "sign_live": True}
        loadgen, queue = start_loadgen(config)
        started = time.monotonic()
        first: tracemalloc.Snapshot | None = None
        warm_rss: float | None = None
        while loadgen.is_alive() and time.monotonic() - started < args.duration + 5:
            time.sleep(min(1.0, args.interval))
            elapsed = time.monotonic() - started
            if warm_rss is None and elapsed >= args.warmup:
                if args.trace:
                    first = tracemalloc.take_snapshot()
                # After the snapshot, which stays in memory until the end.
                warm_rss = _rss_mb()
            if elapsed >= args.interval * (len(samples) + 1):
                samples.append({"t": round(elapsed), "rss_mb": round(_rss_mb(), 1)})
                if args.trace:
                    samples[-1]["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
                if not args.json:
                    print(json.dumps(samples[-1]), flush=True)
        result = queue.get()
        loadgen.join()
        last_rss = _rss_mb()  # before a second snapshot adds its own size
        last = tracemalloc.take_snapshot() if args.trace else None
        server.should_exit = True
        thread.join(timeout=20)
    finally:
        app.close()
        _drop_schema(schema)
    if warm_rss is None:
        raise SystemExit("the run ended before the warm-up did: raise --duration or --requests")
    served = sum(result[op]["requests"] for op in ("update", "events", "get") if op in result)
    report: dict[str, Any] = {
        "duration_seconds": result["seconds"],
        "requests": served,
        "errors": {op: result[op]["errors"] for op in ("update", "events", "get") if op in result},
        "samples": samples,
        "rss_after_warmup_mb": round(warm_rss, 1),
        "rss_growth_after_warmup_mb": round(last_rss - warm_rss, 1),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    if first is not None and last is not None:
        after_warmup = served * max(0.0, 1 - args.warmup / max(result["seconds"], 1e-9))
        grown = sum(s.size_diff for s in last.compare_to(first, "filename"))
        report["traced_growth_after_warmup_kib"] = round(grown / 1024, 1)
        report["traced_bytes_per_request"] = (
            round(grown / after_warmup, 1) if after_warmup else None
        )
        report["growing_sites"] = _sites(first, last, args.top)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
