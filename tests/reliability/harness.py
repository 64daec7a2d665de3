"""Shared pieces of the reliability suite: run ``renraku`` as a subprocess, find a pool's
children, and read what the recording providers were handed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-c", "from renraku.cli import main; main()"]


def worker_env(db_url: str, start: str, **extra: str) -> dict[str, str]:
    """Environment of a worker on the virtual clock with every channel recorded."""
    return {
        **os.environ,
        "RENRAKU_DB": db_url,
        "RENRAKU_CLOCK__MODE": "virtual",
        "RENRAKU_CLOCK__VIRTUAL_START": start,
        "RENRAKU_JOURNEYS__RECORD_CHANNELS": '["VOICE","SMS","EMAIL","CUSTOM"]',
        "RENRAKU_JOURNEYS__SEND_LEASE_SECONDS": "0.3",
        "RENRAKU_JOURNEYS__IDLE_SLEEP_SECONDS": "0.05",
        **extra,
    }


def renraku(args: list[str], env: dict[str, str], **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw
    )


def children(pid: int) -> list[int]:
    """Live child process ids of ``pid`` (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    out = []
    for c in text.split():
        try:
            state = Path(f"/proc/{c}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            continue
        if state != "Z":
            out.append(int(c))
    return out
