"""A seeded, synthetic customer list in Pinpoint's CSV shape (the demo and the benchmark use it).

Like the seed: each user has three endpoints (a phone to call on CUSTOM or VOICE, SMS to the same
number, EMAIL), ``Attributes.CallStatus`` and ``Attributes.Index``, plus a Japanese name. The first
user is the seed's own User1, rows exactly as in the seed's table. Same seed, same file.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
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


def customer_rows(rows: int, *, seed: int = 2023) -> Iterator[tuple[str, ...]]:
    """``rows`` data rows (no header): the seed's User1 first, then synthetic users, 3 rows each."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    emitted = 0
    for row in SEED_ROWS:
        if emitted >= rows:
            return
        yield row
        emitted += 1
    user = 1
    while emitted < rows:
        user += 1
        user_id = f"User{user}"
        number = f"+81{rng.choice(MOBILE_PREFIXES)}{rng.randrange(1, 10)}{rng.randrange(10**7):07d}"
        name = f"{rng.choice(FAMILY_NAMES)} {rng.choice(GIVEN_NAMES)}"
        email = f"user{user}@{rng.choice(MAIL_DOMAINS)}"
        phone_channel = "VOICE" if rng.random() < 0.5 else "CUSTOM"
        for channel, address, index in (
            (phone_channel, number, f"{user_id}-Custom"),
            ("SMS", number, f"{user_id}-SMS"),
            ("EMAIL", email, f"{user_id}-EMAIL"),
        ):
            if emitted >= rows:
                return
            yield (channel, address, user_id, "PENDING", index, name, "Asia/Tokyo", "JP")
            emitted += 1


def write_customer_csv(path: Path, rows: int, *, seed: int = 2023, encoding: str = "utf-8") -> Path:
    """Write the list to ``path`` as CSV (header + ``rows`` rows) in ``encoding``."""
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(customer_rows(rows, seed=seed))
    return path
