"""Run a Markdown page like a user following it, so the docs cannot rot.

A page is read top to bottom:

- a fenced block preceded by ``<!-- file: NAME -->`` is written to NAME in the work folder;
- a ```` ```console ```` block holds commands (lines starting with ``$ ``; a trailing ``\\``
  continues a command) each followed by the output it must print. Every expected line must appear
  in the actual output (spaces collapsed); ``...`` inside a line stands for anything, and a line
  that is only ``...`` skips any output. ``$ export NAME=VALUE`` sets a variable for the
  following commands (a test may override it: a private database for each run).
- ``<!-- docs-test: skip -->`` before a block leaves it out (a command that never ends, e.g.
  ``renraku serve``, which the tests start themselves).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^(`{3,})(\S*)\s*$")
FILE_MARK = re.compile(r"^<!--\s*file:\s*(\S+)\s*-->\s*$")
SKIP_MARK = re.compile(r"^<!--\s*docs-test:\s*skip\s*-->\s*$")
BIN = str(Path(sys.executable).parent)


@dataclass
class Command:
    line: int
    text: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int
    kind: str  # "file" or "console"
    body: list[str]
    name: str | None = None


def blocks(page: str) -> Iterator[Block]:
    """The file and console blocks of a page, in order."""
    lines = page.splitlines()
    i = 0
    pending_file: str | None = None
    skip = False
    while i < len(lines):
        if m := FILE_MARK.match(lines[i]):
            pending_file = m.group(1)
        elif SKIP_MARK.match(lines[i]):
            skip = True
        elif m := FENCE.match(lines[i]):
            fence, info = m.group(1), m.group(2)
            start = i
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i].rstrip() != fence:
                body.append(lines[i])
                i += 1
            if not skip:
                if pending_file:
                    yield Block(start + 1, "file", body, pending_file)
                elif info == "console":
                    yield Block(start + 1, "console", body)
            pending_file, skip = None, False
        elif lines[i].strip():
            pending_file, skip = None, False
        i += 1


def commands(block: Block) -> list[Command]:
    out: list[Command] = []
    lines = iter(enumerate(block.body, start=block.line + 1))
    for n, text in lines:
        if text.startswith("$ "):
            command = text[2:]
            while command.endswith("\\"):
                command = command[:-1] + " " + next(lines)[1].strip()
            out.append(Command(n, command))
        elif out:
            out[-1].expected.append(text)
    return out


def _squash(text: str) -> str:
    return " ".join(text.split())


def output_problem(expected: list[str], actual: str) -> str | None:
    """Why ``actual`` does not show ``expected`` (in order), or None."""
    flat = _squash(actual)
    pos = 0
    for line in expected:
        want = _squash(line)
        if not want or want == "...":
            continue
        pattern = ".*?".join(re.escape(part.strip()) for part in want.split("..."))
        m = re.compile(pattern).search(flat, pos)
        if m is None:
            return f"expected {line.strip()!r} in the output (after what matched before)"
        pos = m.end()
    return None


def run_page(page: Path, work: Path, overrides: Mapping[str, str] | None = None) -> int:
    """Follow ``page`` in ``work``; AssertionError names the line of the first failure.
    Returns the number of commands run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RENRAKU_", "AWS_"))}
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    env["COLUMNS"] = "100"
    env["NO_COLOR"] = "1"
    overrides = dict(overrides or {})
    ran = 0
    for block in blocks(page.read_text(encoding="utf-8")):
        if block.kind == "file":
            assert block.name is not None
            target = work / block.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("\n".join(block.body) + "\n", encoding="utf-8")
            continue
        for cmd in commands(block):
            where = f"{page.name}:{cmd.line}: $ {cmd.text}"
            if cmd.text.startswith("export "):
                name, _, value = cmd.text[len("export ") :].partition("=")
                env[name] = overrides.get(name, " ".join(shlex.split(value)))
                continue
            proc = subprocess.run(
                ["bash", "-c", cmd.text],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            ran += 1
            shown = proc.stdout + proc.stderr
            assert proc.returncode == 0, f"{where}\nexit {proc.returncode}\n{shown}"
            problem = output_problem(cmd.expected, shown)
            assert problem is None, f"{where}\n{problem}\n--- actual output ---\n{shown}"
    return ran
