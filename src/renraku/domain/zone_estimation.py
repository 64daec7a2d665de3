"""Where an endpoint lives when it does not say: its time zone from its phone number, or from its
postal code and country (a journey's ``TimezoneEstimationMethods``, tried in the order listed).

- ``PHONE_NUMBER``: the zone of the endpoint's address as a phone number (``Location.Country`` is
  the region of a number written without ``+``), when phonenumbers' data names exactly one.
- ``POSTAL_CODE``: ``Location.PostalCode`` looked up in :mod:`renraku.domain.postal_zone_data` for
  countries spanning several zones; for a country with one zone (by the tz database's
  ``zone.tab``, zones whose UTC offsets agree all year counting as one) ``Location.Country`` is
  enough, with or without a postal code. Countries are ISO 3166-1 alpha-2 codes (``UK`` is taken
  as ``GB``).

Nothing here uses the network; the tables are read once and answers are cached.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

from renraku.domain import postal_zone_data as data

METHODS = ("PHONE_NUMBER", "POSTAL_CODE")
_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{4,}$")
_NOT_IN_CODE = re.compile(r"[\s-]")
_COUNTRY_ALIASES = {"UK": "GB"}
_PREFIX_TABLES: Mapping[str, Mapping[str, str]] = {
    "CA": data.CA_PREFIXES,
    "AU": data.AU_PREFIXES,
    "NZ": data.NZ_PREFIXES,
    "ES": data.ES_PREFIXES,
    "PT": data.PT_PREFIXES,
    "FR": data.FR_PREFIXES,
}


def zone_named(name: str) -> ZoneInfo | None:
    """The IANA zone ``name``; None when zoneinfo does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _country(code: str | None) -> str:
    clean = str(code or "").strip().upper()
    return _COUNTRY_ALIASES.get(clean, clean)


@lru_cache(maxsize=65536)
def phone_zone(address: str, country: str | None = None) -> ZoneInfo | None:
    """The zone of a phone number when phonenumbers' data names exactly one."""
    text = str(address or "").strip()
    if not _PHONE_LIKE.match(text):
        return None
    region = _country(country) or None
    if not text.startswith("+") and region is None:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in phone_timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    return zone_named(zones[0]) if len(zones) == 1 else None


def _zone_tab() -> str:
    """The tz database's ``zone.tab``: beside the zone files zoneinfo reads, or in ``tzdata``."""
    for folder in TZPATH:
        path = Path(folder) / "zone.tab"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    try:
        return (resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return ""


def _one_zone(names: Sequence[str], year: int) -> ZoneInfo | None:
    """The first zone when all of ``names`` keep the same UTC offsets through ``year``."""
    zones = [z for z in map(zone_named, names) if z is not None]
    if not zones:
        return None
    moments = [
        datetime(year, month, day, 12, tzinfo=UTC) for month in range(1, 13) for day in (1, 15)
    ]
    offsets = {tuple(m.astimezone(z).utcoffset() for m in moments) for z in zones}
    return zones[0] if len(offsets) == 1 else None


@lru_cache(maxsize=1)
def _country_zones() -> dict[str, ZoneInfo]:
    """Countries with one zone (or several that agree all year) -> that zone."""
    listed: dict[str, list[str]] = defaultdict(list)
    for line in _zone_tab().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) >= 3:
            listed[fields[0].strip().upper()].append(fields[2].strip())
    year = datetime.now(UTC).year
    out: dict[str, ZoneInfo] = {}
    for country, names in listed.items():
        zone = _one_zone(names, year)
        if zone is not None:
            out[country] = zone
    return out


def country_zone(country: str | None) -> ZoneInfo | None:
    """The zone of a country that has only one; None for unknown or multi-zone countries."""
    return _country_zones().get(_country(country))


@lru_cache(maxsize=1)
def _us_prefixes() -> dict[str, str]:
    out: dict[str, str] = {}
    for first, last, zone in data.US_ZIP3_RUNS:
        for n in range(int(first), int(last) + 1):
            out[f"{n:03d}"] = zone
    return out


def _by_prefix(table: Mapping[str, str], code: str) -> str | None:
    for size in range(len(code), -1, -1):
        name = table.get(code[:size])
        if name is not None:
            return name
    return None


def _postal_name(code: str, country: str) -> str | None:
    if country == "US":
        zip5 = code[:5]
        if len(zip5) < 5 or not zip5.isdigit():
            return None
        return data.US_ZIP5_EXCEPTIONS.get(zip5) or _us_prefixes().get(zip5[:3])
    table = _PREFIX_TABLES.get(country)
    return _by_prefix(table, code) if table is not None and code else None


@lru_cache(maxsize=65536)
def postal_zone(postal_code: str | None, country: str | None) -> ZoneInfo | None:
    """The zone of a postal code in a country (or of the country alone, when it has one zone)."""
    cc = _country(country)
    if not cc:
        return None
    code = _NOT_IN_CODE.sub("", str(postal_code or "").upper())
    name = _postal_name(code, cc)
    if name is not None:
        return zone_named(name)
    return country_zone(cc)


def estimate(endpoint: Any, methods: Sequence[str]) -> ZoneInfo | None:
    """The zone of ``endpoint`` by the first of ``methods`` that knows one; None if none does."""
    for method in methods:
        zone: ZoneInfo | None = None
        if method == "PHONE_NUMBER":
            address = str(endpoint.address or "")
            # A number in international form needs no country (and the location stays undecoded).
            country = "" if address.startswith("+") else _location(endpoint).get("Country")
            zone = phone_zone(address, str(country or ""))
        elif method == "POSTAL_CODE":
            location = _location(endpoint)
            zone = postal_zone(
                str(location.get("PostalCode") or ""), str(location.get("Country") or "")
            )
        if zone is not None:
            return zone
    return None


def _location(endpoint: Any) -> Mapping[str, Any]:
    return endpoint.location or {}
