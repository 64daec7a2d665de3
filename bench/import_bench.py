"""Import benchmark: renraku import into SQLite and PostgreSQL against the physical floor.

Generates a seeded customer list (3 endpoints per user like the seed, Japanese names in attributes)
and measures, each phase in a fresh subprocess so that its peak RSS is its own:

- ``parse``: a plain ``csv.reader`` pass over the file (no validation, no database);
- ``copy``: a raw PostgreSQL ``COPY ... FROM STDIN (FORMAT csv)`` of the file into a bare table;
- ``sqlite``: ``renraku import`` (full validation, normalisation, segment, job) into SQLite;
- ``postgresql``: the same into PostgreSQL.

Usage: ``python bench/import_bench.py [--rows N] [--json] [--pg-url URL] [--keep]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

PHASES = ("parse", "copy", "sqlite", "postgresql")
DEFAULT_PG = os.environ.get(
    "RENRAKU_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


class TreeRss:
    """Samples the resident memory of this process and all its children (validation workers)."""

    def __init__(self, interval: float = 0.1) -> None:
        import psutil

        self._me = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> int:
        total = self._me.memory_info().rss
        for child in self._me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except Exception:  # a worker that just exited
                continue
        return int(total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self._interval)

    def stop_mb(self) -> float:
        self._stop.set()
        self._thread.join()
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        return max(self.peak, own) / 2**20


def _cpu_seconds() -> float:
    """CPU time of this process and its reaped children (the workers), user + system.

    On a shared machine wall-clock rates fall with the load; CPU time shows the work itself
    (the database server's own CPU is not included)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _schema_url(pg_url: str, schema: str) -> str:
    sep = "&" if "?" in pg_url else "?"
    # The application name lets the benchmark find its own backends (their CPU time, below).
    return f"{pg_url}{sep}options=-csearch_path%3D{schema}&application_name={schema}"


def _backend_cpu_seconds(pg_url: str, application_name: str) -> float:
    """CPU seconds (user + system) so far of the PostgreSQL backends named ``application_name``,
    read from /proc (the server runs on this machine). The importer's pool keeps its connections
    open, so read this before the application closes."""
    ticks = os.sysconf("SC_CLK_TCK")
    with _admin(pg_url) as conn:
        pids = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application_name,)
            )
        ]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _admin(pg_url: str) -> Any:
    import psycopg

    return psycopg.connect(pg_url.split("?")[0], autocommit=True)


def phase_parse(path: Path, _pg_url: str) -> dict[str, Any]:
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as f:
        rows = sum(1 for _ in csv.reader(f)) - 1
    return {"rows": rows, "seconds": time.perf_counter() - started}


def phase_copy(path: Path, pg_url: str) -> dict[str, Any]:
    table = f"bench_copy_{uuid.uuid4().hex[:10]}"
    with _admin(pg_url) as conn:
        header = path.open(encoding="utf-8").readline().strip().split(",")
        cols = ", ".join(f'"c{i}" text' for i in range(len(header)))
        conn.execute(f"CREATE UNLOGGED TABLE {table} ({cols})")
        try:
            started = time.perf_counter()
            with conn.transaction():
                cur = conn.cursor()
                with (
                    cur.copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as copy,
                    path.open("rb") as f,
                ):
                    while block := f.read(1 << 20):
                        copy.write(block)
            seconds = time.perf_counter() - started
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
        finally:
            conn.execute(f"DROP TABLE {table}")
    return {"rows": int(rows), "seconds": seconds}


def _renraku_import(
    path: Path, db_url: str, server_cpu: Callable[[], float] | None = None
) -> dict[str, Any]:
    from renraku.app import build_app
    from renraku.services import imports as import_service
    from renraku.settings import load_settings
    from renraku.store import apps as app_store
    from renraku.store import endpoints as endpoint_store

    app = build_app(load_settings(db=db_url))
    try:
        with app.store.begin() as conn:
            app_id = str(app_store.create_app(conn, "bench", now=app.now_iso())["Id"])
        started = time.perf_counter()
        job = import_service.run_import(
            app,
            app_id,
            import_service.ImportOptions(
                source=str(path), segment_name="bench", default_region="JP"
            ),
        )
        seconds = time.perf_counter() - started
        server_seconds = server_cpu() if server_cpu is not None else None
        with app.store.connect() as conn:
            stored = endpoint_store.count(conn, app_id)
    finally:
        app.close()
    figures: dict[str, Any] = {
        "rows": job["TotalProcessed"],
        "failures": job["TotalFailures"],
        "endpoints": stored,
        "seconds": seconds,
    }
    if server_seconds is not None:
        figures["server_cpu_seconds"] = round(server_seconds, 2)
    return figures


def phase_sqlite(path: Path, _pg_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="renraku-bench-") as tmp:
        return _renraku_import(path, f"sqlite:///{tmp}/bench.db")


def phase_postgresql(path: Path, pg_url: str) -> dict[str, Any]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with _admin(pg_url) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        return _renraku_import(
            path, _schema_url(pg_url, schema), lambda: _backend_cpu_seconds(pg_url, schema)
        )
    finally:
        with _admin(pg_url) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def run_phase(name: str, path: Path, pg_url: str) -> dict[str, Any]:
    """Run one phase in a fresh interpreter; returns its figures (rows, seconds, peak RSS)."""
    proc = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--file", str(path), "--pg-url", pg_url],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["rows_per_s"] = result["rows"] / result["seconds"] if result["seconds"] else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated list")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL to measure against")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated phases")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:  # child: one measurement
        rss = TreeRss()
        figures = globals()[f"phase_{args.phase}"](Path(args.file), args.pg_url)
        figures["peak_rss_mb"] = round(rss.stop_mb(), 1)
        figures["cpu_seconds"] = round(_cpu_seconds(), 2)
        print(json.dumps(figures))
        return

    from renraku.importing.synthetic import write_customer_csv

    out_dir = Path(tempfile.mkdtemp(prefix="renraku-bench-"))
    path = out_dir / "customers.csv"
    started = time.perf_counter()
    write_customer_csv(path, args.rows)
    generated = time.perf_counter() - started
    file_mb = path.stat().st_size / 2**20
    results: dict[str, Any] = {}
    load_before = os.getloadavg()
    try:
        for name in args.phases.split(","):
            results[name] = run_phase(name.strip(), path, args.pg_url)
    finally:
        if not args.keep:
            path.unlink()
            out_dir.rmdir()
    ratio = None
    if "copy" in results and "postgresql" in results:
        ratio = results["postgresql"]["seconds"] / results["copy"]["seconds"]
    summary = {
        "rows": args.rows,
        "file_mb": round(file_mb, 1),
        "generate_seconds": round(generated, 2),
        "cpus": os.cpu_count(),
        "phases": results,
        "ratio_import_to_copy": round(ratio, 2) if ratio else None,
        # Both cores busy is 2.0: on a shared machine the wall-clock figures fall with the load.
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results.values()) if results else None,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{args.rows:,} rows, {file_mb:.1f} MiB ({os.cpu_count()} CPUs), load average "
        f"{summary['load_average_before'][0]} before, {summary['load_average_after'][0]} after"
    )
    print(
        f"{'phase':<12}{'seconds':>10}{'rows/s':>12}{'CPU s':>9}{'server CPU s':>14}"
        f"{'peak RSS MB':>13}  notes"
    )
    for name, r in results.items():
        notes = ""
        if "endpoints" in r:
            notes = f"{r['endpoints']:,} endpoints, {r['failures']:,} rejected"
        server = r.get("server_cpu_seconds")
        print(
            f"{name:<12}{r['seconds']:>10.2f}{r['rows_per_s']:>12,.0f}{r['cpu_seconds']:>9.1f}"
            f"{'-' if server is None else f'{server:.1f}':>14}{r['peak_rss_mb']:>13.1f}  {notes}"
        )
    if ratio:
        print(f"import into PostgreSQL takes {ratio:.2f}x the time of a raw COPY")


if __name__ == "__main__":
    main()
