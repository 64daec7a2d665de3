"""From a read record to an endpoint table row: full validation, normalisation and the stable id.

Pure: the caller passes the application, default region and ``now``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from renraku.domain.endpoint_rules import MAX_ENDPOINT_ID, Issue, check_request
from renraku.domain.endpoints import derive_endpoint_id
from renraku.importing.failures import Failure
from renraku.importing.readers import SourceRecord


@dataclass(frozen=True, slots=True)
class RowContext:
    """What every row of one import shares."""

    app_id: str
    source: str
    default_region: str | None
    now: str


def _issue_failures(ctx: RowContext, line: int, issues: list[Issue]) -> list[Failure]:
    return [Failure(ctx.source, line, i.field or None, i.value, i.reason) for i in issues]


def cohort_of(endpoint_id: str) -> str:
    """Pinpoint's CohortId: a stable bucket 0-99 per endpoint (random splits use it)."""
    return str(zlib.crc32(endpoint_id.encode("utf-8")) % 100)


def endpoint_row(
    ctx: RowContext, record: SourceRecord
) -> tuple[dict[str, Any] | None, list[Failure]]:
    """The endpoints-table row for ``record``, or None and the failures explaining why not."""
    if record.issues and not record.request:
        return None, _issue_failures(ctx, record.line, record.issues)
    clean, issues = check_request(record.request, default_region=ctx.default_region, creating=True)
    endpoint_id = record.endpoint_id
    if endpoint_id is not None:
        endpoint_id = endpoint_id.strip()
        if len(endpoint_id) > MAX_ENDPOINT_ID:
            issues.append(Issue("Id", endpoint_id, f"is over {MAX_ENDPOINT_ID} characters"))
    if record.issues or issues:
        return None, _issue_failures(ctx, record.line, record.issues + issues)
    user = clean.get("User") or {}
    user_id = user.get("UserId")
    channel = clean["ChannelType"]
    address = clean["Address"]
    if not endpoint_id:
        endpoint_id = derive_endpoint_id(ctx.app_id, channel, address, user_id)
    location = clean.get("Location") or {}
    return {
        "app_id": ctx.app_id,
        "id": endpoint_id,
        "channel_type": channel,
        "address": address,
        "user_id": user_id,
        "attributes": clean.get("Attributes") or {},
        "user_attributes": user.get("UserAttributes") or {},
        "demographic": clean.get("Demographic") or {},
        "location": location,
        "metrics": clean.get("Metrics") or {},
        "latitude": location.get("Latitude"),
        "longitude": location.get("Longitude"),
        "opt_out": clean.get("OptOut", "NONE"),
        "endpoint_status": clean.get("EndpointStatus", "ACTIVE"),
        "effective_date": clean.get("EffectiveDate", ctx.now),
        "creation_date": ctx.now,
        "cohort_id": cohort_of(endpoint_id),
        "request_id": clean.get("RequestId"),
    }, []
