"""GSM-7 / UCS-2 detection and segment counting."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from renraku.domain.sms_encoding import GSM7_BASIC, GSM7_EXTENSION, estimate_cost, measure


def test_plain_ascii_text_is_gsm7_and_160_characters_fit_one_segment() -> None:
    assert measure("a" * 160).encoding == "GSM-7"
    assert measure("a" * 160).segments == 1
    assert measure("a" * 161).segments == 2


def test_concatenated_gsm7_parts_hold_153_septets_each() -> None:
    assert measure("a" * 306).segments == 2
    assert measure("a" * 307).segments == 3


def test_extension_table_characters_cost_two_septets() -> None:
    assert measure("€" * 80).units == 160
    assert measure("€" * 80).segments == 1
    assert measure("€" * 81).segments == 2
    assert measure("[]{}").encoding == "GSM-7"


def test_an_escape_pair_is_never_split_across_parts() -> None:
    # 152 septets then a two-septet character: the euro sign moves to the second part.
    text = "a" * 152 + "€" + "b" * 10
    assert measure(text).units == 164
    assert measure(text).segments == 2
    assert measure("a" * 152 + "€" * 77).segments == 3  # 152 + 2 > 153 forces a third part


def test_japanese_text_is_ucs2_with_70_characters_per_segment_and_67_per_part() -> None:
    result = measure("お知らせ")
    assert result.encoding == "UCS-2"
    assert measure("あ" * 70).segments == 1
    assert measure("あ" * 71).segments == 2
    assert measure("あ" * 134).segments == 2
    assert measure("あ" * 135).segments == 3


def test_one_non_gsm_character_switches_the_whole_message_to_ucs2_and_is_named() -> None:
    result = measure("Your code is 1234 ✓")
    assert result.encoding == "UCS-2"
    assert result.non_gsm == ("✓",)


def test_emoji_outside_the_bmp_take_two_ucs2_units() -> None:
    assert measure("😀" * 35).units == 70
    assert measure("😀" * 35).segments == 1
    assert measure("😀" * 36).segments == 2


def test_empty_text_takes_no_segment() -> None:
    assert measure("").segments == 0


def test_cost_estimate_multiplies_segments_by_price_and_recipients() -> None:
    assert estimate_cost("あ" * 71, 0.07, recipients=10) == 1.4


GSM_CHARS = sorted(GSM7_BASIC - {"\x1b"})


@given(st.text(alphabet=GSM_CHARS, max_size=1000))
def test_gsm7_basic_text_segments_follow_the_160_153_rule(text: str) -> None:
    result = measure(text)
    assert result.encoding == "GSM-7"
    n = len(text)
    expected = 0 if n == 0 else 1 if n <= 160 else math.ceil(n / 153)
    assert result.segments == expected


@given(st.text(alphabet=st.characters(min_codepoint=0x3041, max_codepoint=0x30FF), max_size=500))
def test_kana_text_segments_follow_the_70_67_rule(text: str) -> None:
    result = measure(text)
    n = len(text)
    assert result.encoding == ("UCS-2" if n else "GSM-7")
    expected = 0 if n == 0 else 1 if n <= 70 else math.ceil(n / 67)
    assert result.segments == expected


@given(st.text(max_size=400))
def test_every_part_fits_its_capacity(text: str) -> None:
    result = measure(text)
    assert result.segments * result.per_segment >= result.units
    if result.encoding == "GSM-7":
        assert all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def test_prices_per_destination_country_override_the_default() -> None:
    from renraku.channels.config import SmsSettings

    sms = SmsSettings(price_per_segment=0.05, prices={"jp": 0.0745, "US": 0.0079})
    assert sms.price_for("+819011111111") == 0.0745
    assert sms.price_for("+12025550123") == 0.0079
    assert sms.price_for("+447700900123") == 0.05
    assert sms.price_for("not a number") == 0.05
