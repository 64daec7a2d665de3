"""The pure evaluator: distances, recency boundaries, case-sensitive values, source segments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from renraku.domain.endpoints import Endpoint
from renraku.domain.segments import (
    SegmentDefinition,
    endpoint_matches,
    great_circle_km,
    parse_filter,
)
from renraku.domain.timefmt import iso

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def _ep(**fields: object) -> Endpoint:
    base: dict[str, object] = {"app_id": "a", "id": "e1", "channel_type": "EMAIL", "address": "x"}
    base.update(fields)
    return Endpoint(**base)  # type: ignore[arg-type]


def _matches(text: str, ep: Endpoint) -> bool:
    return endpoint_matches(parse_filter(text), ep, now=NOW)


def test_tokyo_to_osaka_is_about_400_km() -> None:
    assert great_circle_km(35.681, 139.767, 34.702, 135.495) == pytest.approx(403, abs=2)
    assert great_circle_km(35.0, 139.0, 35.0, 139.0) == 0


def test_values_compare_case_sensitively_as_in_pinpoint() -> None:
    ep = _ep(attributes={"CallStatus": ["Pending"]})
    assert not _matches("Attributes.CallStatus = PENDING", ep)
    assert _matches("Attributes.CallStatus = Pending", ep)
    assert not _matches("Attributes.CallStatus contains PEND", ep)


def test_the_seed_segment_selects_only_pending_email_endpoints() -> None:
    seed = "ChannelType = EMAIL and Attributes.CallStatus = PENDING"
    assert _matches(seed, _ep(attributes={"CallStatus": ["PENDING"]}))
    assert not _matches(seed, _ep(attributes={"CallStatus": ["CANCELED"]}))
    assert not _matches(seed, _ep(channel_type="SMS", attributes={"CallStatus": ["PENDING"]}))
    assert not _matches(seed, _ep())


def test_recency_counts_from_the_effective_date_and_includes_the_boundary() -> None:
    day_ago = _ep(effective_date=iso(NOW - timedelta(hours=24)))
    older = _ep(effective_date=iso(NOW - timedelta(hours=24, milliseconds=1)))
    never = _ep()
    assert _matches("Behavior.Recency active within HR_24", day_ago)
    assert not _matches("Behavior.Recency active within HR_24", older)
    assert _matches("Behavior.Recency inactive within HR_24", older)
    assert _matches("Behavior.Recency inactive within DAY_7", never)
    assert not _matches("Behavior.Recency active within DAY_30", never)


def test_dates_compare_as_calendar_dates_and_non_dates_never_match() -> None:
    ep = _ep(attributes={"Due": ["2026-11-20T23:59:59Z", "soon"]})
    assert _matches("Attributes.Due on 2026-11-20", ep)
    assert _matches("Attributes.Due on 2026-11-20T08:00:00+09:00", ep)
    assert not _matches("Attributes.Due before 2026-11-20", ep)
    assert _matches("Attributes.Due before 2026-11-21", ep)
    assert not _matches("Attributes.Due after 2026-11-20", _ep(attributes={"Due": ["soon"]}))


def test_missing_metrics_and_positions_never_match_but_exclusive_matches_missing_values() -> None:
    ep = _ep()
    assert not _matches("Metrics.score < 100", ep)
    assert not _matches("Location.GPSPoint within 20000 km of (0, 0)", ep)
    assert _matches("Location.Country != JP", ep)
    assert not _matches("Location.Country = JP", ep)
    assert _matches("Demographic.Platform not in (ios)", ep)


def test_string_positions_are_read_as_numbers_like_the_store_does() -> None:
    ep = _ep(location={"Latitude": "35.681", "Longitude": "139.767"})
    assert _matches("Location.GPSPoint within 1 km of (35.681, 139.767)", ep)


def test_source_segments_use_membership_and_resolve_dimensional_sources() -> None:
    defn = parse_filter("[segment any(list, emails)]")
    emails = parse_filter("ChannelType = EMAIL")

    def sources(seg: str) -> SegmentDefinition | None:
        return emails if seg == "emails" else None

    sms = _ep(id="s", channel_type="SMS")
    assert endpoint_matches(defn, _ep(), now=NOW, members=lambda s: False, sources=sources)
    assert not endpoint_matches(defn, sms, now=NOW, members=lambda s: False, sources=sources)
    assert endpoint_matches(defn, sms, now=NOW, members=lambda s: s == "list", sources=sources)


def test_a_source_segment_without_a_membership_answer_is_an_error() -> None:
    with pytest.raises(ValueError, match="members="):
        endpoint_matches(parse_filter("[segment list]"), _ep(), now=NOW)


def test_groups_combine_by_type_and_include() -> None:
    ep = _ep(attributes={"A": ["1"]})
    assert _matches("[(Attributes.A = 1) and (ChannelType = EMAIL)]", ep)
    assert not _matches("[not (Attributes.A = 1 or ChannelType = SMS)]", ep)
    assert _matches("[ChannelType = SMS] or [Attributes.A = 1]", ep)
    assert not _matches("[ChannelType = SMS] and [Attributes.A = 1]", ep)
    assert _matches("not ([ChannelType = SMS] or [Attributes.A = 2])", ep)
