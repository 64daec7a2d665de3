"""``renraku worker``: run journeys (claim due participants, step them, send)."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

import typer
from sqlalchemy.exc import InterfaceError, OperationalError

from renraku.app import App, build_app
from renraku.cli.common import JsonOpt, console, emit, state
from renraku.domain.journeys.model import parse_duration
from renraku.engine.pool import Pool
from renraku.engine.worker import DB_RETRY_SECONDS, Stats, Worker
from renraku.errors import ConfigError, InvalidInput, Problem, StoreError
from renraku.settings import Settings

log = logging.getLogger("renraku.worker")

# Database errors that waiting will not cure: a worker started with them fails at once.
PERMANENT_MARKERS = (
    "authentication failed",
    "does not exist",
    "no password supplied",
    "unable to open database file",
    "invalid dsn",
    "invalid connection option",
)


def open_patiently(
    open_app: Callable[[], App],
    *,
    within: float = DB_RETRY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> App:
    """``open_app()``, waiting out a database that is briefly unreachable (restarting, or its
    connections cut) for up to ``within`` seconds, as a running worker does: a worker started
    during such a fault starts when it passes instead of exiting. Errors that waiting cannot
    cure (bad credentials, a missing database) are raised at once."""
    delay, deadline = 0.2, time.monotonic() + within
    while True:
        try:
            return open_app()
        except (StoreError, OperationalError, InterfaceError) as exc:
            reason = str(exc).lower()
            if any(m in reason for m in PERMANENT_MARKERS) or time.monotonic() >= deadline:
                raise
            log.warning("database unavailable at start, retrying in %.1f s: %s", delay, exc)
            sleep(delay)
            delay = min(delay * 2, 5.0)


def _summary(stats: Stats, elapsed: float) -> dict[str, Any]:
    late = sorted(stats.lateness)
    p99 = late[min(len(late) - 1, int(len(late) * 0.99))] if late else 0.0
    return {
        "Steps": stats.steps,
        "Claimed": stats.claimed,
        "Sends": stats.sends,
        "Batches": stats.batches,
        "DbErrors": stats.db_errors,
        "Seconds": round(elapsed, 3),
        "StepsPerSecond": round(stats.steps / elapsed, 1) if elapsed > 0 else 0.0,
        "LatenessP99Seconds": round(p99, 3),
        "CpuSeconds": round(time.process_time(), 2),
    }


def worker_command(
    ctx: typer.Context,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Stop when nothing is due.")
    ] = False,
    run_for: Annotated[
        str | None,
        typer.Option(
            "--run-for", help="Run this much journey time (virtual clock: as fast as possible)."
        ),
    ] = None,
    processes: Annotated[
        int, typer.Option("--processes", min=1, max=64, help="Worker processes.")
    ] = 1,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, max=50_000)] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run journeys: claim due participants in batches, step them, hand sends to the channels.

    Without --until-idle or --run-for it runs until interrupted (Ctrl-C, SIGTERM).
    """
    st = state(ctx)
    delta = None
    if run_for is not None:
        try:
            delta = parse_duration(run_for)
        except ValueError as exc:
            raise InvalidInput([Problem("--run-for", str(exc))], subject="option") from exc
    app = open_patiently(lambda: st.app)
    if processes > 1:
        if app.store.dialect == "sqlite":
            raise ConfigError("SQLite has one writer: run one worker process (or use PostgreSQL)")
        app.store.engine.dispose()  # no pooled connection may cross the fork
        _run_pool(st.settings, processes, delta, until_idle, batch_size, json_out)
        return
    data = _run_one(app, delta, until_idle, batch_size)
    emit(
        data,
        json_out,
        lambda: console.print(
            f"{data['Steps']} steps, {data['Sends']} sends in {data['Seconds']} s "
            f"({data['StepsPerSecond']} steps/s)"
        ),
    )


def _run_one(
    app: App, delta: timedelta | None, until_idle: bool, batch_size: int | None
) -> dict[str, Any]:
    """Run one worker in this process until done or SIGTERM/Ctrl-C; its summary."""
    started = time.perf_counter()
    worker = Worker(app, batch_size=batch_size)
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        if delta is not None:
            worker.run_for(delta, stop=lambda: bool(stopping))
        elif until_idle:
            worker.run_until_idle()
        else:
            worker.run_forever(lambda: bool(stopping))
    except KeyboardInterrupt:
        pass
    data = _summary(worker.stats, time.perf_counter() - started)
    data["Pid"] = os.getpid()
    return data


def _run_pool(
    settings: Settings,
    processes: int,
    delta: timedelta | None,
    until_idle: bool,
    batch_size: int | None,
    json_out: bool,
) -> None:
    """A supervised pool of ``processes`` workers (renraku.engine.pool): crashed children are
    restarted; SIGTERM/SIGINT stop them all after their current batch."""

    def child() -> dict[str, Any]:
        app = open_patiently(lambda: build_app(settings, migrate=False))
        try:
            return _run_one(app, delta, until_idle, batch_size)
        finally:
            app.close()

    pool = Pool(child, processes)
    signal.signal(signal.SIGTERM, pool.stop)
    signal.signal(signal.SIGINT, pool.stop)
    report = pool.run()
    results = report.results
    total = {
        "Processes": results,
        "Steps": sum(int(r.get("Steps", 0)) for r in results),
        "Sends": sum(int(r.get("Sends", 0)) for r in results),
        "Restarts": report.restarts,
        "CrashExitCodes": report.exit_codes,
        "FailedProcesses": report.failed_slots,
        "Stopped": report.stopped,
    }
    emit(
        total,
        json_out,
        lambda: console.print(
            f"{total['Steps']} steps over {processes} processes, {report.restarts} restarts"
        ),
    )
    if report.failed_slots:
        raise typer.Exit(1)
