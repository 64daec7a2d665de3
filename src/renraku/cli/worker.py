"""``renraku worker``: run journeys (claim due participants, step them, send)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Annotated, Any

import typer

from renraku.cli.common import JsonOpt, console, emit, state
from renraku.domain.journeys.model import parse_duration
from renraku.engine.worker import Stats, Worker
from renraku.errors import ConfigError, InvalidInput, Problem


def _summary(stats: Stats, elapsed: float) -> dict[str, Any]:
    late = sorted(stats.lateness)
    p99 = late[min(len(late) - 1, int(len(late) * 0.99))] if late else 0.0
    return {
        "Steps": stats.steps,
        "Claimed": stats.claimed,
        "Sends": stats.sends,
        "Batches": stats.batches,
        "Seconds": round(elapsed, 3),
        "StepsPerSecond": round(stats.steps / elapsed, 1) if elapsed > 0 else 0.0,
        "LatenessP99Seconds": round(p99, 3),
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
    if processes > 1:
        if st.app.store.dialect == "sqlite":
            raise ConfigError("SQLite has one writer: run one worker process (or use PostgreSQL)")
        _run_children(ctx, processes, json_out)
        return
    started = time.perf_counter()
    worker = Worker(st.app, batch_size=batch_size)
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
    emit(
        data,
        json_out,
        lambda: console.print(
            f"{data['Steps']} steps, {data['Sends']} sends in {data['Seconds']} s "
            f"({data['StepsPerSecond']} steps/s)"
        ),
    )


def _run_children(ctx: typer.Context, processes: int, json_out: bool) -> None:
    """Start ``processes`` copies of this command (one process each) and wait for all."""
    args = list(sys.argv[1:])
    cleaned: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "--processes":
            skip = True
            continue
        if a.startswith("--processes="):
            continue
        cleaned.append(a)
    if "--json" not in cleaned:
        cleaned.append("--json")
    cmd = [sys.executable, "-c", "from renraku.cli import main; main()", *cleaned]
    children = [subprocess.Popen(cmd, stdout=subprocess.PIPE) for _ in range(processes)]  # noqa: S603
    results = []
    try:
        for child in children:
            out, _ = child.communicate()
            try:
                results.append(json.loads(out))
            except json.JSONDecodeError:
                results.append(
                    {"Error": out.decode(errors="replace"), "ExitCode": child.returncode}
                )
    except KeyboardInterrupt:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait()
    total = {
        "Processes": results,
        "Steps": sum(int(r.get("Steps", 0)) for r in results),
        "Sends": sum(int(r.get("Sends", 0)) for r in results),
    }
    emit(
        total, json_out, lambda: console.print(f"{total['Steps']} steps over {processes} processes")
    )
