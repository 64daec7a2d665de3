"""A seeded, synthetic customer list in Pinpoint's CSV shape (the demo and the benchmark use it).

Like the seed: each user has three endpoints (a phone to call on CUSTOM or VOICE, SMS to the same
number, EMAIL), ``Attributes.CallStatus`` and ``Attributes.Index``, plus a Japanese name. The first
user is the seed's own User1, rows exactly as in the seed's table. Same seed, same file.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

HEADER = (
    "ChannelType",
    "Address",
    "User.UserId",
    "Attributes.CallStatus",
    "Attributes.Index",
    "Attributes.Name",
    "Demographic.Timezone",
    "Location.Country",
)

SEED_ROWS = (
    ("CUSTOM", "+819011111111", "User1", "Pending", "User1-Custom", "", "", ""),
    ("SMS", "+819011111111", "User1", "Pending", "User1-SMS", "", "", ""),
    ("EMAIL", "test@example.com", "User1", "Pending", "User1-EMAIL", "", "", ""),
)

FAMILY_NAMES = (
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
    "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水",
)  # fmt: skip
GIVEN_NAMES = (
    "太郎", "花子", "翔太", "美咲", "大輔", "陽菜", "健", "結衣", "蓮", "さくら",
    "悠真", "葵", "湊", "凛", "陽翔", "芽依", "大和", "七海", "樹", "彩",
)  # fmt: skip
MAIL_DOMAINS = ("example.com", "example.jp", "example.net", "example.org")
MOBILE_PREFIXES = ("90", "80", "70")


def _tokyo(rng: random.Random) -> str:
    return f"+81{rng.choice(MOBILE_PREFIXES)}{rng.randrange(1, 10)}{rng.randrange(10**7):07d}"


# Customers living abroad: (time zone, country, a valid mobile number there).
ZONES = {
    "Asia/Tokyo": ("JP", _tokyo),
    "Asia/Singapore": ("SG", lambda rng: f"+6591{rng.randrange(10**6):06d}"),
    "Europe/London": ("GB", lambda rng: f"+447400{rng.randrange(10**6):06d}"),
    "America/Los_Angeles": (
        "US",
        lambda rng: f"+1415{rng.randrange(2, 10)}{rng.randrange(10**6):06d}",
    ),
}
# The demo's mix of time zones (weights), so that quiet hours hold some customers back.
DEMO_ZONES = (
    ("Asia/Tokyo", 0.7),
    ("Asia/Singapore", 0.1),
    ("Europe/London", 0.1),
    ("America/Los_Angeles", 0.1),
)


def customer_rows(
    rows: int,
    *,
    seed: int = 2023,
    phone_channel: str | None = None,
    zones: Sequence[tuple[str, float]] | None = None,
) -> Iterator[tuple[str, ...]]:
    """``rows`` data rows (no header): the seed's User1 first, then synthetic users, 3 rows each.

    ``phone_channel`` (VOICE or CUSTOM) fixes the channel of every phone row, the seed's too;
    by default synthetic users get either at random. ``zones`` weights the time zones of the
    synthetic users (keys of :data:`ZONES`); by default everyone lives in Asia/Tokyo.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    emitted = 0
    for row in SEED_ROWS:
        if emitted >= rows:
            return
        yield (phone_channel, *row[1:]) if phone_channel and row[0] == "CUSTOM" else row
        emitted += 1
    user = 1
    while emitted < rows:
        user += 1
        user_id = f"User{user}"
        zone = "Asia/Tokyo"
        if zones:
            zone = rng.choices([z for z, _ in zones], weights=[w for _, w in zones])[0]
        country, number_in = ZONES[zone]
        number = number_in(rng)
        name = f"{rng.choice(FAMILY_NAMES)} {rng.choice(GIVEN_NAMES)}"
        email = f"user{user}@{rng.choice(MAIL_DOMAINS)}"
        channel_draw = "VOICE" if rng.random() < 0.5 else "CUSTOM"
        for channel, address, index in (
            (phone_channel or channel_draw, number, f"{user_id}-Custom"),
            ("SMS", number, f"{user_id}-SMS"),
            ("EMAIL", email, f"{user_id}-EMAIL"),
        ):
            if emitted >= rows:
                return
            yield (channel, address, user_id, "PENDING", index, name, zone, country)
            emitted += 1


def write_customer_csv(
    path: Path,
    rows: int,
    *,
    seed: int = 2023,
    encoding: str = "utf-8",
    phone_channel: str | None = None,
    zones: Sequence[tuple[str, float]] | None = None,
    with_ids: bool = False,
) -> Path:
    """Write the list to ``path`` as CSV (header + ``rows`` rows) in ``encoding``.

    ``with_ids`` adds an ``Id`` column (the endpoint id, equal to ``Attributes.Index``), so the
    same list imports to the same endpoint ids every time."""
    index = HEADER.index("Attributes.Index")
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("Id", *HEADER) if with_ids else HEADER)
        for row in customer_rows(rows, seed=seed, phone_channel=phone_channel, zones=zones):
            writer.writerow((row[index], *row) if with_ids else row)
    return path
