"""Rows prepared by import workers are exactly what the store's bulk upsert takes."""

from __future__ import annotations

from renraku.importing.pipeline import RowFormat
from renraku.importing.readers import SourceRecord
from renraku.importing.rows import RowContext, endpoint_row
from renraku.store import endpoints as endpoint_store


def test_worker_row_tuples_equal_the_store_driver_tuples() -> None:
    ctx = RowContext("app", "list.csv", "JP", "2026-11-26T03:00:00.000Z")
    row, failures = endpoint_row(
        ctx,
        SourceRecord(
            2,
            {
                "ChannelType": "SMS",
                "Address": "090-1111-1111",
                "User": {"UserId": "User1"},
                "Attributes": {"Name": ["山田 太郎"]},
                "Location": {"Latitude": "35.68"},
            },
        ),
    )
    assert failures == []
    assert row is not None
    row_format = RowFormat(endpoint_store.COLUMNS, endpoint_store.JSON_COLUMNS)
    prepared = row_format.tuple_of(row)
    assert prepared == endpoint_store.driver_tuple(row)
    as_dict = dict(zip(endpoint_store.COLUMNS, prepared, strict=True))
    assert as_dict["attributes"] == '{"Name":["山田 太郎"]}'
    assert as_dict["metrics"] == "{}"
    assert as_dict["latitude"] == 35.68
