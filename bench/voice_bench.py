"""Voice benchmark: calls placed through the voice simulator running the seed's flow.

Each call goes the whole way: idempotency check, destination and flow checks, the shared capacity
slot (queries on the calls table), the flow run by the interpreter (answer, prompt, digits,
MarkReached updating the user's endpoints, prompts, disconnect), the call record and its events.
Capacity is raised and the clock moves one second per call, so the measure is renraku's own cost
(with a realistic number of calls in progress), not the simulated pacing.

Usage: ``python bench/voice_bench.py [--calls N] [--db URL] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from renraku.app import build_app
from renraku.channels.base import Delivery
from renraku.channels.voice_simulator import SimulatedVoice, parse_script
from renraku.domain.endpoints import Endpoint
from renraku.services import flows as flow_service
from renraku.settings import Settings
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


def run(calls: int, db: str) -> dict[str, Any]:
    settings = Settings(
        db=db,
        voice={
            "capacity": {"max_concurrent_calls": 1_000_000, "calls_per_second": 1_000_000},
            "simulator": {"seed": 1, "press_rate": 0.4},
        },
    )
    clock = Clock()
    app = build_app(settings, clock=clock)
    with app.store.begin() as conn:
        app_id = str(app_store.create_app(conn, f"bench-{time.time_ns()}", now=app.now_iso())["Id"])
        eps = []
        for i in range(calls):
            user = f"U{i}"
            phone = f"+8190{i:08d}"
            for channel, address in (("VOICE", phone), ("SMS", phone), ("EMAIL", f"{user}@x.jp")):
                eps.append(
                    Endpoint(
                        app_id=app_id,
                        id=f"{user}-{channel}",
                        channel_type=channel,
                        address=address,
                        user_id=user,
                        attributes={"CallStatus": ["PENDING"]},
                        creation_date=app.now_iso(),
                    )
                )
        endpoint_store.upsert_many(conn, eps)
    data = json.loads((EXAMPLES / "seed-flow-mark-reached.json").read_text(encoding="utf-8"))
    flow_service.create(app, app_id, data, name="seed")
    voice = app.channels["VOICE"]
    assert isinstance(voice, SimulatedVoice)
    voice._script = parse_script({"numbers": {}})  # every callee follows the random model
    latencies = []
    started = time.perf_counter()
    for ep in (e for e in eps if e.channel_type == "VOICE"):
        t0 = time.perf_counter()
        d = Delivery(
            key=f"b-{ep.id}",
            app_id=app_id,
            channel="VOICE",
            endpoint=ep,
            config={"ContactFlowId": "seed"},
        )
        result = voice.deliver([d])[0]
        latencies.append(time.perf_counter() - t0)
        clock.at += timedelta(seconds=1)
        if result.outcome != "sent":
            raise SystemExit(f"call refused: {result.reason}")
    wall = time.perf_counter() - started
    app.close()
    latencies.sort()
    return {
        "calls": calls,
        "dialect": db.split(":", 1)[0],
        "wall_seconds": round(wall, 2),
        "calls_per_second": round(calls / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.calls, args.db or f"sqlite:///{tmp}/bench.db")
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>18}: {value}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
