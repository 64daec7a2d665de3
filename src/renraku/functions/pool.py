"""Warm worker processes, as Lambda keeps execution environments: one function's module stays
imported between invocations (module-level clients are reused), one invocation per process at a
time. A worker that crashes or times out is discarded; idle workers are reaped after a while.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MARKER = "\x1erenraku-invocation-end\x1e"
MAX_IDLE_PER_FUNCTION = 2
IDLE_SECONDS = 300.0


@dataclass
class Run:
    """What one invocation in a worker produced."""

    output: str
    timed_out: bool
    exit_code: int | None  # set when the worker ended during the invocation


class WarmWorker:
    """One worker process in serve mode, with a thread that reads its output lines."""

    def __init__(self, env: Mapping[str, str], cwd: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "renraku.functions.worker", "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.idle_since = time.monotonic()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        with stdout:
            for raw in iter(stdout.readline, b""):
                self.lines.put(raw.decode("utf-8", "replace"))
        self.lines.put(None)

    def _release(self) -> None:
        """Close our ends of the pipes once the process has ended."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        self._reader.join(timeout=5)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, request: dict[str, Any], timeout: float) -> Run:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return Run("", False, self.process.wait())
        deadline = time.monotonic() + timeout
        out: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                return Run("".join(out), True, None)
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                return Run("".join(out), False, self.process.wait())
            if line.endswith(MARKER + "\n"):  # the function may not have ended its last line
                out.append(line[: -len(MARKER) - 1])
                return Run("".join(out), False, None)
            out.append(line)

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        self._release()

    def close(self) -> None:
        """End the worker: closing its stdin ends its request loop."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._release()


class Pool:
    """Idle workers by function identity (name, handler, code and environment)."""

    def __init__(self) -> None:
        self._idle: dict[tuple[Any, ...], list[WarmWorker]] = {}
        self._lock = threading.Lock()

    def checkout(self, key: tuple[Any, ...], env: Mapping[str, str], cwd: str) -> WarmWorker:
        now = time.monotonic()
        stale: list[WarmWorker] = []
        found: WarmWorker | None = None
        with self._lock:
            for workers in self._idle.values():
                for w in list(workers):
                    if not w.alive or now - w.idle_since > IDLE_SECONDS:
                        workers.remove(w)
                        stale.append(w)
            idle = self._idle.get(key) or []
            if idle:
                found = idle.pop()
        for w in stale:
            w.close()
        return found or WarmWorker(env, cwd)

    def checkin(self, key: tuple[Any, ...], worker: WarmWorker) -> None:
        if not worker.alive:
            return
        worker.idle_since = time.monotonic()
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_PER_FUNCTION:
                idle.append(worker)
                return
        worker.close()

    def close(self) -> None:
        with self._lock:
            workers = [w for ws in self._idle.values() for w in ws]
            self._idle.clear()
        for w in workers:
            w.close()


POOL = Pool()
atexit.register(POOL.close)
