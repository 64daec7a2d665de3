"""The demo's population: the seed's User1 first, four time zones, valid numbers, fixed ids."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import phonenumbers
from phonenumbers import timezone as phone_timezone

from renraku.importing.synthetic import DEMO_ZONES, customer_rows, write_customer_csv


def test_every_zone_of_the_mix_is_used_with_a_valid_mobile_number_of_that_zone() -> None:
    rows = list(customer_rows(3 * 2000, seed=11, phone_channel="VOICE", zones=DEMO_ZONES))
    phones = [r for r in rows[3:] if r[0] == "VOICE"]
    zones = Counter(r[6] for r in phones)
    assert set(zones) == {z for z, _ in DEMO_ZONES}
    assert 0.6 < zones["Asia/Tokyo"] / len(phones) < 0.8
    for row in phones:
        number = phonenumbers.parse(row[1])
        assert phonenumbers.is_valid_number(number), row
        assert row[6] in phone_timezone.time_zones_for_number(number), row


def test_a_fixed_phone_channel_applies_to_the_seeds_own_rows_too() -> None:
    rows = list(customer_rows(6, seed=1, phone_channel="VOICE"))
    assert rows[0][:3] == ("VOICE", "+819011111111", "User1")
    assert [r[0] for r in rows] == ["VOICE", "SMS", "EMAIL"] * 2


def test_with_ids_every_endpoint_id_is_its_index_so_two_imports_give_the_same_ids(
    tmp_path: Path,
) -> None:
    path = write_customer_csv(tmp_path / "c.csv", 30, seed=3, zones=DEMO_ZONES, with_ids=True)
    with path.open(encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [r["Id"] for r in table] == [r["Attributes.Index"] for r in table]
    assert len({r["Id"] for r in table}) == 30
    again = write_customer_csv(tmp_path / "d.csv", 30, seed=3, zones=DEMO_ZONES, with_ids=True)
    assert again.read_text("utf-8") == path.read_text("utf-8")
