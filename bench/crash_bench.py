"""The crash test at the issue's size: 20,000 users through the seed journey on PostgreSQL with
two pooled workers, at least 30 of them killed (SIGKILL) at random moments and restarted.

It runs tests/reliability/test_crash_worker.py with RENRAKU_CRASH_USERS / _KILLS / _BATCH set,
so the checks are the test's own (every participant finished, each message handed to its
provider exactly once, metrics equal to the ledger), and reports wall time, the CPU seconds of
the test and its workers (PostgreSQL's own are not counted) and the load average around the run.

    .venv/bin/python bench/crash_bench.py                       # 20,000 users, 30 kills
    .venv/bin/python bench/crash_bench.py --users 5000 --kills 40 --batch 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument(
        "--batch", type=int, default=50, help="participants per claim (the CI run uses 1)"
    )
    parser.add_argument("--seed", default="7", help="seed of the kill moments and victims")
    args = parser.parse_args()
    env = {
        **os.environ,
        "RENRAKU_CRASH_USERS": str(args.users),
        "RENRAKU_CRASH_KILLS": str(args.kills),
        "RENRAKU_CRASH_BATCH": str(args.batch),
        "RENRAKU_CRASH_SEED": args.seed,
    }
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/reliability/test_crash_worker.py", "-q",
         "-p", "no:cacheprovider", "-p", "no:xdist", "--durations=1"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {
        "users": args.users,
        "kills": args.kills,
        "batch": args.batch,
        "passed": done.returncode == 0,
        "wall_seconds": round(wall, 1),
        "cpu_seconds_test_and_workers": round(usage.ru_utime + usage.ru_stime, 1),
        "loadavg_before": load_before,
        "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
    }
    print(json.dumps(report, indent=2))
    if done.returncode != 0:
        print(done.stdout[-5000:], done.stderr[-3000:], file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
