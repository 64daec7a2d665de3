"""Regenerate the US ZIP code -> time zone table in src/renraku/domain/postal_zone_data.py.

The source is the dataset embedded in the ``zipcodes`` package (MIT licence; every US ZIP code
with its IANA zone). It is a build-time input only: renraku ships the derived table and needs no
network or extra package at run time. Run ``pip install zipcodes`` then
``python scripts/us-zip-zones.py > /tmp/us.py`` and paste the two tables over the old ones.

The table is the zone most ZIP codes of each three-digit prefix are in (runs of prefixes with one
zone are merged), plus every five-digit ZIP code whose zone differs from its prefix's. Prefixes
the dataset gives no zone (unassigned ones; military APO/FPO codes) are left out.
"""

from __future__ import annotations

import collections

import zipcodes  # type: ignore[import-not-found]

from renraku.domain.zone_estimation import zone_named


def main() -> None:
    by_prefix: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    zone_of: dict[str, str] = {}
    for z in zipcodes.list_all():
        zone = z.get("timezone") or ""
        if z.get("country") != "US" or zone_named(zone) is None:
            continue
        zone_of[z["zip_code"]] = zone
        by_prefix[z["zip_code"][:3]][zone] += 1
    majority = {p: c.most_common(1)[0][0] for p, c in sorted(by_prefix.items())}
    runs: list[list[str]] = []
    for prefix, zone in majority.items():
        if runs and runs[-1][2] == zone and int(runs[-1][1]) + 1 == int(prefix):
            runs[-1][1] = prefix
        else:
            runs.append([prefix, prefix, zone])
    exceptions = {z: zone for z, zone in sorted(zone_of.items()) if zone != majority[z[:3]]}
    print("US_ZIP3_RUNS: tuple[tuple[str, str, str], ...] = (")
    for first, last, zone in runs:
        print(f'    ("{first}", "{last}", "{zone}"),')
    print(")")
    print("US_ZIP5_EXCEPTIONS: dict[str, str] = {")
    for code, zone in exceptions.items():
        print(f'    "{code}": "{zone}",')
    print("}")


if __name__ == "__main__":
    main()
