"""The synthetic customer list: seeded, the seed's User1 first, three valid endpoints per user."""

from __future__ import annotations

from collections import Counter

from renraku.importing.readers import SourceRecord
from renraku.importing.rows import RowContext, endpoint_row
from renraku.importing.synthetic import HEADER, SEED_ROWS, customer_rows


def _request(row: tuple[str, ...]) -> dict[str, object]:
    cells = dict(zip(HEADER, row, strict=True))
    request: dict[str, object] = {
        "ChannelType": cells["ChannelType"],
        "Address": cells["Address"],
        "User": {"UserId": cells["User.UserId"]},
        "Attributes": {
            k.split(".", 1)[1]: [v] for k, v in cells.items() if k.startswith("Attributes.") and v
        },
    }
    return request


def test_same_seed_gives_the_same_list_and_another_seed_another() -> None:
    assert list(customer_rows(300, seed=1)) == list(customer_rows(300, seed=1))
    assert list(customer_rows(300, seed=1)) != list(customer_rows(300, seed=2))


def test_the_list_starts_with_the_seed_rows_and_has_exactly_the_rows_asked() -> None:
    rows = list(customer_rows(1000))
    assert len(rows) == 1000
    assert tuple(rows[:3]) == SEED_ROWS


def test_every_user_has_a_phone_sms_and_email_endpoint_all_valid() -> None:
    rows = list(customer_rows(3000))
    ctx = RowContext("app", "synthetic", "JP", "2026-11-26T03:00:00.000Z")
    per_user: dict[str, list[str]] = {}
    for number, row in enumerate(rows, start=2):
        endpoint, failures = endpoint_row(ctx, SourceRecord(number, _request(row)))
        assert failures == []
        assert endpoint is not None
        per_user.setdefault(str(endpoint["user_id"]), []).append(str(endpoint["channel_type"]))
    assert len(per_user) == 1000
    shapes = Counter(
        tuple(sorted(c.replace("VOICE", "CUSTOM") for c in cs)) for cs in per_user.values()
    )
    assert shapes == Counter({("CUSTOM", "EMAIL", "SMS"): 1000})
    names = {row[5] for row in rows[3:]}
    assert all(" " in name and not name.isascii() for name in names)
