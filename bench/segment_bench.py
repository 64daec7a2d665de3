"""Segment benchmark: count and list dimensional segments over many endpoints, cold and warm.

Loads N endpoints itself (seeded; 3 per user on CUSTOM, SMS and EMAIL as in the seed; CallStatus
PENDING for most users, COMPLETED/CANCELED for those who answered; positions in Japan; a ``score``
metric) through the store's bulk path (COPY on PostgreSQL, executemany on SQLite), then times:

* the seed's dynamic segment ``ChannelType = EMAIL and Attributes.CallStatus = PENDING``
* a 3-group segment with a GPS range and a metric comparison

counted (``Count``, ``Users``, ``ByChannel``) and listed (every matching ``id, user_id`` fetched),
on SQLite and PostgreSQL. "cold" is the first query on a freshly opened engine (the operating
system's page cache is not dropped); "warm" is the median of the following runs.

    .venv/bin/python bench/segment_bench.py --endpoints 1000000
    .venv/bin/python bench/segment_bench.py --endpoints 200000 --only sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from renraku.domain.segments import format_filter, parse_filter
from renraku.domain.timefmt import iso
from renraku.store import Store
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store
from renraku.store.engine import normalise_url
from renraku.store.segment_sql import matching_endpoints, segment_counts, tune_for_segments

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
SEED_FILTER = "ChannelType = EMAIL and Attributes.CallStatus = PENDING"
GROUPS_FILTER = (
    "[ChannelType = EMAIL and Attributes.CallStatus = PENDING]"
    " or [Location.GPSPoint within 30 km of (35.681, 139.767) and Metrics.score > 90]"
    " or [Attributes.CallStatus = COMPLETED and Behavior.Recency active within DAY_7]"
)
CITIES = [(35.681, 139.767), (34.702, 135.495), (35.170, 136.881), (43.068, 141.351),
          (33.590, 130.420), (38.268, 140.869), (34.385, 132.455), (26.212, 127.679)]  # fmt: skip
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def endpoint_rows(app_id: str, n: int, seed: int = 20231108) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for u in range(n // 3):
        user = f"User{u}"
        answered = rng.random() < 0.15
        lat0, lon0 = rng.choice(CITIES)
        lat, lon = round(lat0 + rng.gauss(0, 0.4), 5), round(lon0 + rng.gauss(0, 0.4), 5)
        effective = iso(NOW - timedelta(minutes=rng.randrange(60 * 24 * 60)))
        for channel, address in (
            ("CUSTOM", f"+8190{u:08d}"),
            ("SMS", f"+8190{u:08d}"),
            ("EMAIL", f"user{u}@example.com"),
        ):
            status = ("COMPLETED" if channel == "CUSTOM" else "CANCELED") if answered else "PENDING"
            location = {"Country": "JP", "Latitude": lat, "Longitude": lon}
            yield {
                "app_id": app_id,
                "id": f"{user}-{channel}",
                "channel_type": channel,
                "address": address,
                "user_id": user,
                "attributes": {"CallStatus": [status], "Index": [f"{user}-{channel}"]},
                "user_attributes": {},
                "demographic": {"Platform": "ios" if u % 2 else "android"},
                "location": location,
                "metrics": {"score": float(rng.randrange(100))},
                "latitude": lat,
                "longitude": lon,
                "opt_out": "NONE",
                "endpoint_status": "ACTIVE",
                "effective_date": effective,
                "creation_date": effective,
                "cohort_id": str(u % 100),
                "request_id": None,
            }


def existing(url: str, n: int) -> str | None:
    """The application a previous run loaded at ``url`` (``--reuse``), if any."""
    try:
        store = Store.open(url, migrate_schema=False)
    except Exception:
        return None
    try:
        with store.connect() as conn:
            found = conn.execute(
                text("SELECT id FROM applications WHERE name = :name"), {"name": f"bench-{n}"}
            ).scalar()
    except Exception:
        found = None
    finally:
        store.close()
    return None if found is None else str(found)


def load(url: str, n: int) -> tuple[str, float]:
    store = Store.open(url)
    started = time.perf_counter()
    with store.begin() as conn:
        app_id = str(app_store.create_app(conn, f"bench-{n}", now=iso(NOW))["Id"])
    batch: list[dict[str, Any]] = []
    for row in endpoint_rows(app_id, n):
        batch.append(row)
        if len(batch) == 20000:
            with store.begin() as conn:
                endpoint_store.upsert_rows(conn, batch)
            batch = []
    if batch:
        with store.begin() as conn:
            endpoint_store.upsert_rows(conn, batch)
    loaded = time.perf_counter() - started
    with store.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        for name, filt in (("seed", SEED_FILTER), ("groups", GROUPS_FILTER)):
            segment_store.create_dimensional(
                conn, app_id, name=name, definition=parse_filter(filt).to_json(), tags={},
                now=iso(NOW),
            )  # fmt: skip
    if store.dialect == "postgresql":
        # What autovacuum does after a bulk load: statistics and the visibility map, which lets
        # the attribute index answer counts by index-only scans.
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    store.close()
    return app_id, loaded


def write_cost(url: str, n: int, *, with_index: bool) -> float:
    """Endpoints/s of the store's bulk upsert into a fresh database, with or without the
    attribute-index triggers."""
    store = Store.open(url)
    with store.begin() as conn:
        if not with_index:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("ALTER TABLE endpoints DISABLE TRIGGER USER")
            else:
                for t in ("insert", "update", "delete"):
                    conn.exec_driver_sql(f"DROP TRIGGER endpoint_attribute_index_{t}")
        app_id = str(app_store.create_app(conn, "cost", now=iso(NOW))["Id"])
    rows = list(endpoint_rows(app_id, n))
    started = time.perf_counter()
    for i in range(0, len(rows), 20000):
        with store.begin() as conn:
            endpoint_store.upsert_rows(conn, rows[i : i + 20000])
    elapsed = time.perf_counter() - started
    store.close()
    return round(n / elapsed)


def counts(conn: Any, app_id: str, name: str) -> dict[str, Any]:
    return segment_counts(conn, app_id, name, now=NOW)


def listing(conn: Any, app_id: str, name: str) -> int:
    # As journey entry does before running the statement (PostgreSQL: no JIT for it).
    tune_for_segments(conn)
    return len(conn.execute(matching_endpoints(conn, app_id, name, now=NOW)).all())


def server_cpu(conn: Any) -> Callable[[], float]:
    """CPU seconds so far of the PostgreSQL backend serving ``conn``, read from /proc when the
    server runs on this machine (0.0 otherwise, and on SQLite, where the query runs here)."""
    if conn.dialect.name != "postgresql":
        return lambda: 0.0
    stat = Path(f"/proc/{conn.exec_driver_sql('SELECT pg_backend_pid()').scalar()}/stat")
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / ticks

    return read


def timed(url: str, action: Callable[[Any], Any], repeats: int) -> dict[str, Any]:
    """Cold wall s, warm median wall s, warm median CPU s of this process and of the database
    server's backend, and the result. On SQLite the query runs in this process; on PostgreSQL
    in the backend. CPU time depends much less on the machine's load than wall time."""
    store = Store.open(url, migrate_schema=False)
    times, cpu, server, result = [], [], [], None
    try:
        for _ in range(repeats + 1):
            with store.connect() as conn:
                backend = server_cpu(conn)
                started, cpu_started, server_started = (
                    time.perf_counter(), time.process_time(), backend()
                )  # fmt: skip
                result = action(conn)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
                server.append(backend() - server_started)
    finally:
        store.close()
    return {"cold_s": round(times[0], 3), "warm_s": round(statistics.median(times[1:]), 3),
            "warm_cpu_s": round(statistics.median(cpu[1:]), 3),
            "warm_server_cpu_s": round(statistics.median(server[1:]), 3), "result": result}  # fmt: skip


def pg_schema_url(base: str, schema: str, *, fresh: bool) -> str:
    admin = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if fresh:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--pg", default=os.environ.get("RENRAKU_TEST_POSTGRES_URL", PG_DEFAULT))
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--write-cost", type=int, metavar="N",
        help="only measure the bulk upsert of N endpoints with and without the attribute index",
    )  # fmt: skip
    parser.add_argument(
        "--reuse", action="store_true", help="query the data a previous run loaded, if present"
    )
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    targets = [d for d in ("sqlite", "postgresql") if args.only in (None, d)]
    if args.write_cost:
        for dialect in targets:
            if dialect == "sqlite":
                path = args.workdir / "segment_write_cost.db"
                urls = []
                for label in ("a", "b"):
                    p = Path(f"{path}.{label}")
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{p}{suffix}").unlink(missing_ok=True)
                    urls.append(f"sqlite:///{p}")
            else:
                urls = [pg_schema_url(args.pg, f"segment_cost_{x}", fresh=True) for x in "ab"]
            with_idx = write_cost(urls[0], args.write_cost, with_index=True)
            without = write_cost(urls[1], args.write_cost, with_index=False)
            row = {"dialect": dialect, "endpoints": args.write_cost,
                   "with_index_per_s": with_idx, "without_index_per_s": without}  # fmt: skip
            results.append(row)
            print(json.dumps(row), file=sys.stderr)
        if args.json:
            print(json.dumps({"write_cost": results}, indent=2))
        return 0
    for dialect in targets:
        if dialect == "sqlite":
            path = args.workdir / f"segment_bench_{args.endpoints}.db"
            url = f"sqlite:///{path}"
            app_id = existing(url, args.endpoints) if args.reuse else None
            if app_id is None:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            url = pg_schema_url(args.pg, "segment_bench", fresh=not args.reuse)
            app_id = existing(url, args.endpoints) if args.reuse else None
            if app_id is None:
                url = pg_schema_url(args.pg, "segment_bench", fresh=True)
        if app_id is None:
            app_id, load_s = load(url, args.endpoints)
            print(f"{dialect}: loaded {args.endpoints:,} endpoints in {load_s:.1f} s "
                  f"({args.endpoints / load_s:,.0f} endpoints/s)", file=sys.stderr)  # fmt: skip
        else:
            print(f"{dialect}: reusing {args.endpoints:,} endpoints", file=sys.stderr)
        for name in ("seed", "groups"):
            for op, action in (
                ("count", lambda c, nm=name, app=app_id: counts(c, app, nm)),
                ("list", lambda c, nm=name, app=app_id: listing(c, app, nm)),
            ):
                row = {"dialect": dialect, "segment": name, "op": op,
                       **timed(url, action, args.repeats)}  # fmt: skip
                results.append(row)
                print(f"{dialect:10} {name:6} {op:5} cold {row['cold_s']:6.3f} s  warm "
                      f"{row['warm_s']:6.3f} s  (cpu {row['warm_cpu_s']:6.3f} s, server "
                      f"{row['warm_server_cpu_s']:6.3f} s)  {json.dumps(row['result'])}",
                      file=sys.stderr)  # fmt: skip
    if args.json:
        print(json.dumps({"endpoints": args.endpoints, "load": os.getloadavg(), "filters": {
            "seed": format_filter(parse_filter(SEED_FILTER)),
            "groups": format_filter(parse_filter(GROUPS_FILTER))}, "results": results}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
