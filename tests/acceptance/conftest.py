"""Fixtures of the acceptance suite."""

from __future__ import annotations

from collections.abc import Iterator

import cli_process
import pytest


@pytest.fixture(scope="session", autouse=True)
def _renraku_template() -> Iterator[None]:
    """The process ``cli_process`` forks commands from ends with the session."""
    yield
    cli_process.close()
