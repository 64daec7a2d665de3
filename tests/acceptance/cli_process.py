"""``renraku`` commands run as their own processes, forked from one that has imported renraku.

A fresh ``renraku`` spends about 1.5 s of CPU starting Python and importing renraku before the
command does anything, which is most of what a command-per-step acceptance test costs. Here one
process per test process (the template) imports ``renraku.cli`` once; each command is a child
forked from it that takes the command's arguments, environment, working directory and stdin,
writes to its own stdout and stderr, runs the console script's ``main()`` and exits normally
(exit handlers run), so the test sees the exit code and output a real ``renraku`` gives. Commands
that need a terminal, signals or a long-running server still start the real console script.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

# The template: import what every command imports, then fork one child per request line.
_TEMPLATE = r"""
import json, os, sys, threading
import renraku.cli

assert threading.active_count() == 1, "the template must not fork with threads running"
requests = os.fdopen(int(sys.argv[1]), "r")
answers = os.fdopen(int(sys.argv[2]), "w")
answers.write(json.dumps({"ready": True}) + "\n")
answers.flush()
request = None
for line in requests:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        requests.close()
        answers.close()
        break
    answers.write(json.dumps({"pid": pid}) + "\n")
    answers.flush()
    _, status = os.waitpid(pid, 0)
    answers.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n")
    answers.flush()
    request = None
if request is None:
    sys.exit(0)
os.chdir(request["cwd"])
os.environ.clear()
os.environ.update(request["env"])
for fd, path, mode in ((0, request["stdin"], os.O_RDONLY), (1, request["stdout"], os.O_WRONLY),
                       (2, request["stderr"], os.O_WRONLY)):
    opened = os.open(path, mode)
    os.dup2(opened, fd)
    os.close(opened)
sys.argv = [request["program"], *request["args"]]
from renraku.cli import main
sys.exit(main())
"""

PROGRAM = str(Path(sys.executable).parent / "renraku")
STARTUP_SECONDS = 120.0  # importing renraku on a busy machine


class _Template:
    def __init__(self) -> None:
        req_read, self._req_write = os.pipe()
        self._ans_read, ans_write = os.pipe()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RENRAKU_")}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _TEMPLATE, str(req_read), str(ans_write)],
            pass_fds=(req_read, ans_write),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        os.close(req_read)
        os.close(ans_write)
        self.requests: IO[str] = os.fdopen(self._req_write, "w")
        self.answers: IO[str] = os.fdopen(self._ans_read, "r")
        self.lock = threading.Lock()
        self._answer(STARTUP_SECONDS)  # imported: ready to fork

    def _answer(self, timeout: float | None) -> dict[str, Any]:
        if timeout is not None:
            ready, _, _ = select.select([self.answers], [], [], timeout)
            if not ready:
                raise TimeoutError
        line = self.answers.readline()
        if not line:
            raise RuntimeError(f"the renraku template process ended ({self.process.poll()})")
        return dict(json.loads(line))

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path | str,
        env: Mapping[str, str],
        input: str = "",
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        with self.lock, tempfile.TemporaryDirectory(prefix="renraku-cli-") as tmp:
            paths = {name: Path(tmp) / name for name in ("stdin", "stdout", "stderr")}
            paths["stdin"].write_text(input, encoding="utf-8")
            paths["stdout"].touch()
            paths["stderr"].touch()
            request = {
                "program": PROGRAM,
                "args": list(args),
                "cwd": str(cwd),
                "env": dict(env),
                **{name: str(path) for name, path in paths.items()},
            }
            self.requests.write(json.dumps(request) + "\n")
            self.requests.flush()
            pid = self._answer(STARTUP_SECONDS)["pid"]
            try:
                code = int(self._answer(timeout)["code"])
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                self._answer(STARTUP_SECONDS)
                raise subprocess.TimeoutExpired([PROGRAM, *args], timeout or 0.0) from None
            return subprocess.CompletedProcess(
                [PROGRAM, *args],
                code,
                paths["stdout"].read_text(encoding="utf-8"),
                paths["stderr"].read_text(encoding="utf-8"),
            )

    def close(self) -> None:
        self.requests.close()
        self.process.wait(timeout=30)
        self.answers.close()


_TEMPLATES: list[_Template] = []


def run_renraku(
    args: Sequence[str],
    *,
    cwd: Path | str,
    env: Mapping[str, str],
    input: str = "",
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """``renraku *args`` in its own process, as ``subprocess.run(..., capture_output=True,
    text=True)`` would run it, without the start-up cost."""
    if not _TEMPLATES or _TEMPLATES[0].process.poll() is not None:
        _TEMPLATES[:] = [_Template()]
    return _TEMPLATES[0].run(args, cwd=cwd, env=env, input=input, timeout=timeout)


def close() -> None:
    """Stop the template process (at the end of the test session)."""
    while _TEMPLATES:
        _TEMPLATES.pop().close()
