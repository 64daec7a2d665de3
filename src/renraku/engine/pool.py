"""A supervised pool of worker processes on one host (``renraku worker --processes N``).

The supervisor forks ``processes`` children, each running ``target`` (which builds its own App:
nothing that holds a connection crosses the fork). A child that exits 0 has finished its work and
is not replaced; a child that dies otherwise (a crash, SIGKILL, the out-of-memory killer) is
restarted, with a growing pause when it keeps dying straight after starting. SIGTERM or SIGINT to
the supervisor (``stop()``) forwards SIGTERM to every child, waits ``stop_grace_seconds`` for
them to finish their batch, then kills what is left. A supervisor that dies without that chance
(SIGKILL, the out-of-memory killer) takes its children with it: on Linux each child asks the
kernel for SIGTERM when its parent goes (``PR_SET_PDEATHSIG``), so it finishes its batch and
exits instead of working on unsupervised.

Correctness never depends on the supervisor: claims are row locks released when a dead child's
connection closes, and sends it left open are reconciled after their lease (engine/ledger.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

_CTX = multiprocessing.get_context("fork")
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass
class PoolReport:
    """What the pool did: the children's own summaries, restarts, and slots given up on."""

    results: list[dict[str, Any]] = field(default_factory=list)
    restarts: int = 0
    exit_codes: list[int] = field(default_factory=list)  # of children that died (negative: signal)
    failed_slots: int = 0
    stopped: bool = False


@dataclass
class _Slot:
    index: int
    process: BaseProcess | None = None
    reader: Connection | None = None
    started: float = 0.0
    quick_crashes: int = 0
    done: bool = False


def die_with(parent: int) -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux; elsewhere a no-op).

    The request is tied to the thread that forked us, and a parent that died before it was made
    is never reported: so the parent is checked afterwards, and if it is no longer ``parent``
    (we were re-parented already) this process terminates itself the same way.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        signal.raise_signal(signal.SIGTERM)


def _child(target: Callable[[], dict[str, Any]], writer: Connection, parent: int) -> None:
    # The supervisor decides about interrupts: Ctrl-C in a terminal reaches the whole process
    # group, and the supervisor turns it into one SIGTERM per child.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with(parent)
    result = target()
    writer.send_bytes(json.dumps(result, default=str).encode())
    writer.close()


class Pool:
    """Run ``target`` in ``processes`` supervised children (see the module docstring)."""

    def __init__(
        self,
        target: Callable[[], dict[str, Any]],
        processes: int,
        *,
        restart_delay: float = 0.1,
        max_restart_delay: float = 5.0,
        max_quick_crashes: int = 20,
        quick_seconds: float = 1.0,
        stop_grace_seconds: float = 30.0,
    ) -> None:
        if processes < 1:
            raise ValueError("a pool needs at least one process")
        self.target = target
        self.slots = [_Slot(i) for i in range(processes)]
        self.restart_delay = restart_delay
        self.max_restart_delay = max_restart_delay
        self.max_quick_crashes = max_quick_crashes
        self.quick_seconds = quick_seconds
        self.stop_grace_seconds = stop_grace_seconds
        self.report = PoolReport()
        self._stopping = False

    def pids(self) -> list[int]:
        """Process ids of the children alive now."""
        return [
            s.process.pid
            for s in self.slots
            if s.process is not None and s.process.pid is not None and s.process.is_alive()
        ]

    def stop(self, *_: Any) -> None:
        """Ask the pool to stop (safe to call from a signal handler)."""
        self._stopping = True

    def _start(self, slot: _Slot) -> None:
        reader, writer = _CTX.Pipe(duplex=False)
        proc = _CTX.Process(target=_child, args=(self.target, writer, os.getpid()), daemon=False)
        proc.start()
        writer.close()
        slot.process, slot.reader, slot.started = proc, reader, time.monotonic()

    def _collect(self, slot: _Slot) -> None:
        proc, reader = slot.process, slot.reader
        assert proc is not None
        assert reader is not None
        proc.join()
        code = proc.exitcode if proc.exitcode is not None else -1
        result: dict[str, Any] | None = None
        if code == 0 and reader.poll():
            try:
                result = json.loads(reader.recv_bytes())
            except (EOFError, ValueError):
                result = None
        reader.close()
        slot.process, slot.reader = None, None
        if code == 0:
            slot.done = True
            self.report.results.append(result or {})
            return
        self.report.exit_codes.append(code)
        if self._stopping:
            slot.done = True
            return
        quick = time.monotonic() - slot.started < self.quick_seconds
        slot.quick_crashes = slot.quick_crashes + 1 if quick else 0
        if slot.quick_crashes > self.max_quick_crashes:
            slot.done = True
            self.report.failed_slots += 1
            return
        # A child that ran a while is replaced at once; one that keeps dying straight after
        # starting (no database, bad configuration) is retried ever more slowly.
        if slot.quick_crashes >= 3:
            time.sleep(
                min(self.max_restart_delay, self.restart_delay * 2 ** (slot.quick_crashes - 3))
            )
        self.report.restarts += 1
        self._start(slot)

    def _terminate(self) -> None:
        live = [s for s in self.slots if s.process is not None and s.process.is_alive()]
        for s in live:
            assert s.process is not None
            assert s.process.pid is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(s.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace_seconds
        for s in live:
            assert s.process is not None
            s.process.join(max(0.0, deadline - time.monotonic()))
            if s.process.is_alive():
                s.process.kill()
                s.process.join()
        for s in self.slots:
            if s.process is not None:
                self._collect(s)

    def run(self) -> PoolReport:
        """Start the children and supervise them until all finished or the pool is stopped."""
        for slot in self.slots:
            self._start(slot)
        while True:
            if self._stopping:
                self.report.stopped = True
                self._terminate()
                return self.report
            live = [s for s in self.slots if s.process is not None]
            if not live:
                return self.report
            wait([s.process.sentinel for s in live if s.process is not None], timeout=0.2)
            for s in live:
                if s.process is not None and s.process.exitcode is not None:
                    self._collect(s)
