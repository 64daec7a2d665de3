"""The docs as a user follows them: every command of the README, the tutorial and the how-to
guides runs in a fresh folder and prints what the page shows (see docs_runner); the generated
reference pages match the code."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docs_runner import blocks, commands, output_problem, run_page

from renraku.cli import docgen

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
HOW_TO = sorted((DOCS / "how-to").glob("*.md"))
SMTP_PORT = 8025  # the port the SMTP how-to uses


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[Path]:
    """The local SMTP server the SMTP how-to tells the reader to start."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    if not _free(SMTP_PORT):
        pytest.fail(f"port {SMTP_PORT} is taken: the SMTP how-to needs it for its SMTP server")
    maildir = tmp_path / "maildir"
    controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        yield maildir
    finally:
        controller.stop()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``renraku serve`` on the page's database (renraku.db in its folder): the server the
    migration guide tells the reader to start. Yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RENRAKU_", "AWS_"))}
    log = (tmp_path / "serve.log").open("w")
    renraku = str(Path(sys.executable).parent / "renraku")
    proc = subprocess.Popen(
        [renraku, "serve", "--port", str(port), "--log-level", "warning"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a busy machine starts it slowly
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "renraku serve did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()


def test_the_tutorial_runs_from_start_to_end_with_the_output_it_shows(tmp_path: Path) -> None:
    assert run_page(DOCS / "tutorial.md", tmp_path) >= 12


def test_the_readme_tour_runs_the_demo_and_prints_the_summary_it_shows(tmp_path: Path) -> None:
    assert run_page(ROOT / "README.md", tmp_path) >= 1


@pytest.mark.parametrize("page", HOW_TO, ids=[p.stem for p in HOW_TO])
def test_every_how_to_guide_runs_as_written(
    page: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    overrides: dict[str, str] = {}
    if page.stem == "postgres-workers":
        overrides["RENRAKU_DB"] = str(request.getfixturevalue("pg_url"))
    if page.stem == "email-smtp":
        request.getfixturevalue("smtp_sink")
    if page.stem == "migrate-from-pinpoint":
        overrides["AWS_ENDPOINT_URL_PINPOINT"] = str(request.getfixturevalue("served"))
    assert run_page(page, tmp_path, overrides) >= 1


def test_the_cli_and_settings_references_are_generated_from_the_current_code() -> None:
    for name, make in docgen.PAGES.items():
        page = DOCS / "reference" / name
        assert page.read_text(encoding="utf-8") == make(), (
            f"docs/reference/{name} is stale: run `make docs` (`python -m renraku.cli.docgen`)"
        )


def test_the_cli_reference_names_every_command_of_the_tutorial() -> None:
    reference = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    for block in blocks((DOCS / "tutorial.md").read_text(encoding="utf-8")):
        if block.kind != "console":
            continue
        for cmd in commands(block):
            words = cmd.text.split()
            if words[0] != "renraku":
                continue
            group, sub = f"## renraku {words[1]}", f"## renraku {' '.join(words[1:3])}"
            assert f"{sub}\n" in reference or f"{group}\n" in reference, cmd.text


def test_the_output_check_matches_lines_in_order_with_ellipses_and_refuses_missing_ones() -> None:
    shown = "Rows processed  6\nRows rejected 0\nSegment seed (abc123)\n"
    assert output_problem(["Rows processed 6", "Segment ... (...)"], shown) is None
    assert output_problem(["...", "Rows rejected 0"], shown) is None
    assert output_problem(["Rows rejected 0", "Rows processed 6"], shown) is not None
    assert output_problem(["Rows rejected 1"], shown) is not None


def test_every_relative_link_in_the_docs_points_at_a_file_that_exists() -> None:
    import re

    pages = [ROOT / "README.md", *DOCS.rglob("*.md")]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text("utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links {target}"
