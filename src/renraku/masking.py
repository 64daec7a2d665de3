"""Masking of secrets and personal data in log output.

:class:`MaskingFilter` rewrites every record a handler emits: values of secret-looking fields
(passwords, tokens, API and signing keys, Authorization headers, AWS secret keys) become ``***``
always; phone numbers and email addresses are masked by default (``+81******78``,
``u***@example.com``), so a log shipped to a third party carries no contact data. Set
``RENRAKU_LOG_PII=show`` to keep them while debugging on your own machine.

:func:`configure_logging` installs one stderr handler with the filter on the root logger (the CLI
calls it); :func:`protect` adds the filter to handlers configured elsewhere;
:func:`uvicorn_log_config` is the logging configuration ``renraku serve`` hands to uvicorn, which
applies it in every worker process it starts (so their logs are masked too).
"""

from __future__ import annotations

import copy
import logging
import os
import re
from typing import Any

_SECRET_FIELD = re.compile(
    r"""(?ix)
    (?P<name>["']?(?:[a-z_-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key
        |private[_-]?key|signing[_-]?key|credential|signature|authorization|session|cookie)
        [a-z_-]*)["']?)
    (?P<sep>\s*[:=]\s*(?:b(?=["']))?["']?)  # b'...': bytes as botocore logs header values
    (?:(?P<scheme>Bearer\s+|Basic\s+|AWS4-HMAC-SHA256\s+))?
    (?P<value>[^\s"',;&}]+)
    """
)
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]*:)(?P<pw>[^@\s/]+)(?=@)", re.I)
# A bearer or basic credential wherever it appears, also without a header name before it.
_BEARER = re.compile(r"\b(?P<scheme>Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_EMAIL = re.compile(
    r"\b(?P<first>[A-Za-z0-9])[A-Za-z0-9._%+-]*@(?P<domain>[A-Za-z0-9.-]+\.[A-Za-z]{2,})\b"
)
# International numbers (+ then 8-15 digits, spaces, dots or dashes between) and long digit runs
# written as phone numbers; ids and timestamps are left alone by requiring the + or a 0 prefix.
_PHONE = re.compile(r"(?<![\w+])(?P<lead>\+|0)(?P<body>\d[\d \-.()]{6,18}\d)(?!\w)")


def mask_secrets(text: str) -> str:
    """``text`` with the values of secret-looking fields, AWS key ids and URL passwords hidden."""

    def field(m: re.Match[str]) -> str:
        return f"{m['name']}{m['sep']}{m['scheme'] or ''}***"

    text = _SECRET_FIELD.sub(field, text)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}***", text)
    text = _BEARER.sub(lambda m: f"{m['scheme']} ***", text)
    return _AWS_KEY_ID.sub("AKIA****************", text)


def mask_contacts(text: str) -> str:
    """``text`` with email addresses and phone numbers masked (last two digits kept)."""
    text = _EMAIL.sub(lambda m: f"{m['first']}***@{m['domain']}", text)

    def phone(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m["body"])
        if len(digits) < 8:
            return m.group(0)
        return f"{m['lead']}{digits[:2]}{'*' * (len(digits) - 4)}{digits[-2:]}"

    return _PHONE.sub(phone, text)


def mask(text: str, *, contacts: bool = True) -> str:
    """Secrets always, contacts unless ``contacts`` is False."""
    text = mask_secrets(text)
    return mask_contacts(text) if contacts else text


class MaskingFilter(logging.Filter):
    """Rewrites a record's message (arguments merged in) and exception text through :func:`mask`."""

    def __init__(self, *, contacts: bool | None = None) -> None:
        super().__init__()
        self.contacts = (
            os.environ.get("RENRAKU_LOG_PII", "").lower() != "show"
            if contacts is None
            else contacts
        )

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = mask(message, contacts=self.contacts)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text, contacts=self.contacts)
        if record.stack_info:
            record.stack_info = mask(record.stack_info, contacts=self.contacts)
        return True


def protect(*logger_names: str) -> None:
    """Add a :class:`MaskingFilter` to every handler of the named loggers (root when none)."""
    for name in logger_names or ("",):
        for handler in logging.getLogger(name or None).handlers:
            if not any(isinstance(f, MaskingFilter) for f in handler.filters):
                handler.addFilter(MaskingFilter())


def configure_logging(level: int | str | None = None) -> None:
    """One stderr handler on the root logger, masking (idempotent). Level: ``RENRAKU_LOG_LEVEL``
    or WARNING."""
    root = logging.getLogger()
    chosen = level or os.environ.get("RENRAKU_LOG_LEVEL", "WARNING").upper()
    root.setLevel(chosen)
    if not any(getattr(h, "_renraku", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler._renraku = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    protect("", "uvicorn", "uvicorn.error", "uvicorn.access")


def uvicorn_log_config(level: int | str | None = None) -> dict[str, Any]:
    """uvicorn's own logging configuration with :class:`MaskingFilter` on each of its handlers,
    and a masking stderr handler on the root logger at ``RENRAKU_LOG_LEVEL`` (or WARNING)."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["masking"] = {"()": f"{__name__}.MaskingFilter"}
    config["formatters"]["renraku"] = {"format": FORMAT}
    config["handlers"]["renraku"] = {
        "class": "logging.StreamHandler",
        "formatter": "renraku",
        "stream": "ext://sys.stderr",
    }
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "masking"]
    chosen = level or os.environ.get("RENRAKU_LOG_LEVEL", "WARNING").upper()
    config["root"] = {"handlers": ["renraku"], "level": chosen}
    return config
