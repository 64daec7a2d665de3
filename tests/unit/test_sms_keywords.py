"""Inbound SMS keywords: STOP, START and HELP in English and Japanese."""

from __future__ import annotations

import pytest

from renraku.domain.keywords import classify


@pytest.mark.parametrize(
    "body",
    ["STOP", "stop", " Stop. ", "UNSUBSCRIBE", "停止", "配信停止", "ＳＴＯＰ", "cancel", "Opt-Out"],
)
def test_standard_opt_out_words_are_stop(body: str) -> None:
    assert classify(body) == "STOP"


@pytest.mark.parametrize("body", ["START", "unstop", "yes", "再開"])
def test_opt_in_words_are_start(body: str) -> None:
    assert classify(body) == "START"


@pytest.mark.parametrize("body", ["HELP", "help?", "ヘルプ", "INFO"])
def test_help_words_are_help(body: str) -> None:
    assert classify(body) == "HELP"


@pytest.mark.parametrize(
    "body", ["Please stop calling me at night", "停止してください", "", "STOPPED", "ok thanks"]
)
def test_ordinary_text_is_no_command(body: str) -> None:
    assert classify(body) is None


def test_configured_extra_words_opt_out() -> None:
    assert classify("やめて", ["やめて"]) == "STOP"
    assert classify("やめて") is None
