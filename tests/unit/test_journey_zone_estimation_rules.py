"""TimezoneEstimationMethods: an endpoint without Demographic.Timezone gets its zone from its phone
number or from its postal code and country, by the first listed method that knows one."""

from __future__ import annotations

import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from renraku.domain import postal_zone_data
from renraku.domain.endpoints import Endpoint
from renraku.domain.journeys.windows import endpoint_zone
from renraku.domain.zone_estimation import country_zone, estimate, phone_zone, postal_zone


def _ep(
    address: str = "u@example.com",
    *,
    country: str | None = None,
    postal: str | None = None,
    tz: str | None = None,
    channel: str = "EMAIL",
) -> Endpoint:
    location: dict[str, Any] = {}
    if country is not None:
        location["Country"] = country
    if postal is not None:
        location["PostalCode"] = postal
    return Endpoint(
        app_id="a",
        id="e",
        channel_type=channel,
        address=address,
        location=location,
        demographic={"Timezone": tz} if tz else {},
    )


@pytest.mark.parametrize(
    ("country", "postal", "zone"),
    [
        ("US", "10001", "America/New_York"),
        ("US", "90210-1234", "America/Los_Angeles"),  # ZIP+4
        ("US", "60601", "America/Chicago"),
        ("US", "80202", "America/Denver"),
        ("US", "85001", "America/Phoenix"),  # no daylight saving
        ("US", "96813", "Pacific/Honolulu"),
        ("US", "99501", "America/Anchorage"),
        ("US", "79901", "America/Denver"),  # El Paso: Texas, but Mountain time
        ("US", "32501", "America/Chicago"),  # Pensacola: the Florida panhandle
        ("US", "97914", "America/Boise"),  # Ontario, Oregon: Mountain time
        ("US", "83814", "America/Los_Angeles"),  # northern Idaho: Pacific time
        ("us", "02138", "America/New_York"),  # leading zero, lower-case country
        ("CA", "M5V 3L9", "America/Toronto"),
        ("CA", "h2x1y4", "America/Toronto"),
        ("CA", "V6B 1A1", "America/Vancouver"),
        ("CA", "T2P 1J9", "America/Edmonton"),
        ("CA", "S4P 3Y2", "America/Regina"),
        ("CA", "S9V 0A1", "America/Edmonton"),  # Lloydminster keeps Alberta time
        ("CA", "A1C 5M2", "America/St_Johns"),
        ("CA", "A2V 1A1", "America/Goose_Bay"),  # Labrador City
        ("CA", "P9N 1A1", "America/Winnipeg"),  # Kenora, north-western Ontario
        ("CA", "X0A 0H0", "America/Iqaluit"),
        ("AU", "2000", "Australia/Sydney"),
        ("AU", "3000", "Australia/Melbourne"),
        ("AU", "4000", "Australia/Brisbane"),
        ("AU", "0800", "Australia/Darwin"),
        ("AU", "6000", "Australia/Perth"),
        ("AU", "2880", "Australia/Broken_Hill"),
        ("AU", "2898", "Australia/Lord_Howe"),
        ("NZ", "8942", "Pacific/Chatham"),
        ("NZ", "1010", "Pacific/Auckland"),
        ("ES", "38001", "Atlantic/Canary"),
        ("ES", "28001", "Europe/Madrid"),
        ("PT", "9500-123", "Atlantic/Azores"),
        ("PT", "1000-001", "Europe/Lisbon"),
        ("FR", "97400", "Indian/Reunion"),
        ("FR", "75001", "Europe/Paris"),
        ("JP", "100-0001", "Asia/Tokyo"),  # one zone: the country is enough
        ("GB", "SW1A 1AA", "Europe/London"),
        ("UK", "EC1A 1BB", "Europe/London"),
        ("DE", "10115", "Europe/Berlin"),  # Berlin and Busingen agree all year: one zone
    ],
)
def test_postal_code_and_country_give_the_local_zone(country: str, postal: str, zone: str) -> None:
    assert postal_zone(postal, country) == ZoneInfo(zone)


@pytest.mark.parametrize(
    ("country", "postal"),
    [
        ("US", "ABCDE"),  # not a ZIP code
        ("US", "123"),
        ("US", ""),  # a multi-zone country without a postal code
        ("CA", "D1A 1A1"),  # no province starts with D
        ("CA", ""),
        ("BR", "01001-000"),  # multi-zone, no table: unknown
        ("RU", "101000"),
        ("", "10001"),  # a postal code without a country
        ("ZZ", "1"),
    ],
)
def test_postal_code_that_cannot_be_placed_gives_no_zone(country: str, postal: str) -> None:
    assert postal_zone(postal, country) is None


def test_every_table_entry_names_a_zone_zoneinfo_knows() -> None:
    tables: list[dict[str, str]] = [
        postal_zone_data.CA_PREFIXES,
        postal_zone_data.AU_PREFIXES,
        postal_zone_data.NZ_PREFIXES,
        postal_zone_data.ES_PREFIXES,
        postal_zone_data.PT_PREFIXES,
        postal_zone_data.FR_PREFIXES,
        postal_zone_data.US_ZIP5_EXCEPTIONS,
    ]
    names = {z for t in tables for z in t.values()}
    names |= {z for _, _, z in postal_zone_data.US_ZIP3_RUNS}
    for name in sorted(names):
        ZoneInfo(name)  # raises for an unknown zone
    runs = [(int(a), int(b)) for a, b, _ in postal_zone_data.US_ZIP3_RUNS]
    assert all(a <= b for a, b in runs)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(runs))  # no overlap


def test_country_zone_knows_single_zone_countries_only() -> None:
    assert country_zone("jp") == ZoneInfo("Asia/Tokyo")
    assert country_zone("SG") == ZoneInfo("Asia/Singapore")
    assert country_zone("US") is None
    assert country_zone("AU") is None
    assert country_zone("") is None


def test_phone_number_in_national_form_uses_the_country_as_its_region() -> None:
    assert phone_zone("+442071838750") == ZoneInfo("Europe/London")
    assert phone_zone("020 7183 8750", "GB") == ZoneInfo("Europe/London")
    assert phone_zone("020 7183 8750") is None  # no country: cannot be read
    assert phone_zone("u@example.com", "GB") is None


def test_methods_are_tried_in_the_order_listed() -> None:
    # A Tokyo phone number, but an address in New York.
    ep = _ep("+81312345678", country="US", postal="10001", channel="SMS")
    assert estimate(ep, ["PHONE_NUMBER", "POSTAL_CODE"]) == ZoneInfo("Asia/Tokyo")
    assert estimate(ep, ["POSTAL_CODE", "PHONE_NUMBER"]) == ZoneInfo("America/New_York")
    # The first method knows nothing: the next one answers.
    email = _ep(country="US", postal="94105")
    assert estimate(email, ["PHONE_NUMBER", "POSTAL_CODE"]) == ZoneInfo("America/Los_Angeles")
    assert estimate(email, ["PHONE_NUMBER"]) is None


def test_endpoint_zone_prefers_demographic_then_estimation_then_the_journey_zone() -> None:
    journey = {
        "TimezoneEstimationMethods": ["POSTAL_CODE"],
        "Schedule": {"Timezone": "Asia/Tokyo"},
    }
    assert endpoint_zone(_ep(country="US", postal="60601", tz="Europe/Paris"), journey) == (
        ZoneInfo("Europe/Paris")
    )
    assert endpoint_zone(_ep(country="US", postal="60601"), journey) == ZoneInfo("America/Chicago")
    assert endpoint_zone(_ep(country="BR", postal="01001-000"), journey) == ZoneInfo("Asia/Tokyo")
    # POSTAL_CODE not asked for: the postal code is not looked at.
    only_schedule = {"Schedule": {"Timezone": "Asia/Tokyo"}}
    assert endpoint_zone(_ep(country="US", postal="60601"), only_schedule) == ZoneInfo("Asia/Tokyo")
