"""A local SMTP server (aiosmtpd) that keeps every message it receives, for demos and tests.

Messages are kept in memory and, when a directory is given, written there as ``.eml`` files that
any mail client opens. Point ``email.smtp`` at it: ``host = "127.0.0.1"``, ``port = mailbox.port``.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _Keep:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
            count = len(self.messages)
        if self.directory is not None:
            (self.directory / f"{count:06d}.eml").write_bytes(raw)
        return "250 Message accepted for delivery"


class Mailbox:
    """A running local SMTP server; ``messages`` are the parsed messages received so far."""

    def __init__(self, handler: _Keep, controller: Controller, port: int) -> None:
        self._handler = handler
        self._controller = controller
        self.host = "127.0.0.1"
        self.port = port

    @property
    def messages(self) -> list[EmailMessage]:
        with self._handler.lock:
            return list(self._handler.messages)

    def stop(self) -> None:
        self._controller.stop()


def start(directory: Path | None = None, port: int = 0) -> Mailbox:
    """Start a mailbox on 127.0.0.1 (``port`` 0: any free port)."""
    if port == 0:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    handler = _Keep(directory)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return Mailbox(handler, controller, port)


@contextmanager
def running(directory: Path | None = None, port: int = 0) -> Iterator[Mailbox]:
    mailbox = start(directory, port)
    try:
        yield mailbox
    finally:
        mailbox.stop()
