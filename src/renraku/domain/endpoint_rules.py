"""Validation and normalisation of Pinpoint ``EndpointRequest`` JSON, with Pinpoint's limits.

One set of rules serves ``renraku endpoints update``, the HTTP API's UpdateEndpoint and every
imported row: :func:`check_request` returns the cleaned request and every :class:`Issue` found
(field, value, reason); :func:`validate_endpoint_request` turns issues into ``Problem``s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from renraku.domain.addresses import AddressError, normalise_address
from renraku.domain.endpoints import (
    DEMOGRAPHIC_FIELDS,
    ENDPOINT_STATUS_VALUES,
    LOCATION_FIELDS,
    MAX_ATTRIBUTE_NAME,
    MAX_ATTRIBUTE_VALUE,
    MAX_ATTRIBUTE_VALUES,
    MAX_ATTRIBUTES,
    MAX_METRICS,
    MAX_USER_ATTRIBUTES,
    OPT_OUT_VALUES,
    ChannelType,
)
from renraku.domain.timefmt import iso, parse_iso
from renraku.errors import Problem

REQUEST_FIELDS = frozenset(
    {
        "Address",
        "Attributes",
        "ChannelType",
        "Demographic",
        "EffectiveDate",
        "EndpointStatus",
        "Location",
        "Metrics",
        "OptOut",
        "RequestId",
        "User",
    }
)
USER_FIELDS = frozenset({"UserAttributes", "UserId"})
CHANNEL_TYPES = frozenset(c.value for c in ChannelType)
MAX_USER_ID = 256
MAX_ENDPOINT_ID = 128
MAX_REQUEST_ID = 128
MAX_FIELD_TEXT = 256

_DEMOGRAPHIC_BY_LOWER = {name.lower(): name for name in DEMOGRAPHIC_FIELDS}
_LOCATION_BY_LOWER = {name.lower(): name for name in LOCATION_FIELDS}


@dataclass(frozen=True, slots=True)
class Issue:
    """One thing wrong with a request: the field (dotted path), the value given, and why."""

    field: str
    value: str | None
    reason: str


def _show(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else repr(value)


def check_channel(value: Any) -> tuple[str | None, str | None]:
    """``(channel, None)`` for a known ChannelType (any case), else ``(None, reason)``."""
    if not isinstance(value, str) or not value.strip():
        return None, "ChannelType is required (one of VOICE, SMS, EMAIL, CUSTOM, ...)"
    channel = value.strip().upper()
    if channel not in CHANNEL_TYPES:
        known = ", ".join(sorted(CHANNEL_TYPES))
        return None, f"unknown ChannelType; expected one of {known}"
    return channel, None


def _string_lists(
    value: Any, field: str, limit: int, issues: list[Issue]
) -> dict[str, list[str]] | None:
    """Pinpoint's attribute maps (name -> list of strings) within Pinpoint's limits."""
    if not isinstance(value, Mapping):
        issues.append(Issue(field, _show(value), "must be an object of name -> list of strings"))
        return None
    clean: dict[str, list[str]] = {}
    for name, values in value.items():
        if not isinstance(name, str) or not name.strip():
            issues.append(Issue(field, _show(name), "attribute names must not be empty"))
            continue
        where = f"{field}.{name}"
        if len(name) > MAX_ATTRIBUTE_NAME:
            issues.append(
                Issue(where, name, f"attribute name is over {MAX_ATTRIBUTE_NAME} characters")
            )
            continue
        # The common case (every CSV row): a short list of short strings.
        if (
            type(values) is list
            and 0 < len(values) <= MAX_ATTRIBUTE_VALUES
            and all(type(v) is str and len(v) <= MAX_ATTRIBUTE_VALUE for v in values)
        ):
            clean[name] = list(values)
            continue
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list):
            issues.append(Issue(where, _show(values), "must be a list of strings"))
            continue
        if len(values) > MAX_ATTRIBUTE_VALUES:
            issues.append(
                Issue(where, None, f"has {len(values)} values; the limit is {MAX_ATTRIBUTE_VALUES}")
            )
            continue
        ok = True
        for item in values:
            if not isinstance(item, str):
                issues.append(Issue(where, _show(item), "values must be strings"))
                ok = False
            elif len(item) > MAX_ATTRIBUTE_VALUE:
                issues.append(Issue(where, item, f"value is over {MAX_ATTRIBUTE_VALUE} characters"))
                ok = False
        if ok:
            clean[name] = list(values)
    if len(clean) > limit:
        issues.append(Issue(field, None, f"has {len(clean)} attributes; the limit is {limit}"))
    return clean


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _metrics(value: Any, issues: list[Issue]) -> dict[str, float] | None:
    if not isinstance(value, Mapping):
        issues.append(Issue("Metrics", _show(value), "must be an object of name -> number"))
        return None
    clean: dict[str, float] = {}
    for name, raw in value.items():
        where = f"Metrics.{name}"
        if not isinstance(name, str) or not name.strip():
            issues.append(Issue("Metrics", _show(name), "metric names must not be empty"))
        elif len(name) > MAX_ATTRIBUTE_NAME:
            issues.append(
                Issue(where, name, f"metric name is over {MAX_ATTRIBUTE_NAME} characters")
            )
        elif (number := _number(raw)) is None:
            issues.append(Issue(where, _show(raw), "must be a finite number"))
        else:
            clean[name] = number
    if len(clean) > MAX_METRICS:
        issues.append(
            Issue("Metrics", None, f"has {len(clean)} metrics; the limit is {MAX_METRICS}")
        )
    return clean


def _demographic(value: Any, issues: list[Issue]) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        issues.append(Issue("Demographic", _show(value), "must be an object"))
        return None
    clean: dict[str, str] = {}
    for name, raw in value.items():
        key = _DEMOGRAPHIC_BY_LOWER.get(str(name).lower())
        if key is None:
            fields = ", ".join(DEMOGRAPHIC_FIELDS)
            issues.append(
                Issue(f"Demographic.{name}", _show(raw), f"unknown field; expected {fields}")
            )
            continue
        where = f"Demographic.{key}"
        if not isinstance(raw, str):
            issues.append(Issue(where, _show(raw), "must be a string"))
        elif len(raw) > MAX_FIELD_TEXT:
            issues.append(Issue(where, raw, f"is over {MAX_FIELD_TEXT} characters"))
        elif key == "Timezone" and raw.strip() and not _known_zone(raw.strip()):
            issues.append(Issue(where, raw, "unknown time zone; use an IANA name like Asia/Tokyo"))
        else:
            clean[key] = raw.strip()
    return clean


@lru_cache(maxsize=1024)
def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _location(value: Any, issues: list[Issue]) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        issues.append(Issue("Location", _show(value), "must be an object"))
        return None
    clean: dict[str, Any] = {}
    for name, raw in value.items():
        key = _LOCATION_BY_LOWER.get(str(name).lower())
        if key is None:
            fields = ", ".join(LOCATION_FIELDS)
            issues.append(
                Issue(f"Location.{name}", _show(raw), f"unknown field; expected {fields}")
            )
            continue
        where = f"Location.{key}"
        if key in ("Latitude", "Longitude"):
            bound = 90.0 if key == "Latitude" else 180.0
            number = _number(raw)
            if number is None or not -bound <= number <= bound:
                issues.append(
                    Issue(where, _show(raw), f"must be a number from -{bound:g} to {bound:g}")
                )
            else:
                clean[key] = number
        elif not isinstance(raw, str):
            issues.append(Issue(where, _show(raw), "must be a string"))
        elif len(raw) > MAX_FIELD_TEXT:
            issues.append(Issue(where, raw, f"is over {MAX_FIELD_TEXT} characters"))
        else:
            clean[key] = raw.strip()
    return clean


def _choice(value: Any, field: str, allowed: tuple[str, ...], issues: list[Issue]) -> str | None:
    text = value.strip().upper() if isinstance(value, str) else None
    if text not in allowed:
        issues.append(Issue(field, _show(value), f"must be one of {', '.join(allowed)}"))
        return None
    return text


def _user(value: Any, issues: list[Issue]) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        issues.append(Issue("User", _show(value), "must be an object with UserId, UserAttributes"))
        return None
    clean: dict[str, Any] = {}
    for key in value:
        if key not in USER_FIELDS:
            issues.append(
                Issue(f"User.{key}", None, "unknown field; expected UserId, UserAttributes")
            )
    if "UserId" in value:
        user_id = value["UserId"]
        if user_id is None:
            clean["UserId"] = None
        elif not isinstance(user_id, str):
            issues.append(Issue("User.UserId", _show(user_id), "must be a string"))
        elif len(user_id.strip()) > MAX_USER_ID:
            issues.append(Issue("User.UserId", user_id, f"is over {MAX_USER_ID} characters"))
        else:
            clean["UserId"] = user_id.strip() or None
    if "UserAttributes" in value:
        attrs = _string_lists(
            value["UserAttributes"], "User.UserAttributes", MAX_USER_ATTRIBUTES, issues
        )
        if attrs is not None:
            clean["UserAttributes"] = attrs
    return clean


def check_request(
    request: Mapping[str, Any], *, default_region: str | None, creating: bool
) -> tuple[dict[str, Any], list[Issue]]:
    """Check a Pinpoint ``EndpointRequest`` and normalise what it holds.

    Returns the cleaned request (only the fields given, addresses normalised, enumerations
    upper-cased, dates as ISO-8601 UTC) and every issue found. When ``creating``, ChannelType and
    Address are required. The address is checked against the request's ChannelType.
    """
    issues: list[Issue] = []
    clean: dict[str, Any] = {}
    for key in request:
        if key not in REQUEST_FIELDS:
            issues.append(Issue(str(key), None, "unknown field of EndpointRequest"))

    channel: str | None = None
    if "ChannelType" in request or creating:
        channel, reason = check_channel(request.get("ChannelType"))
        if reason is not None:
            issues.append(Issue("ChannelType", _show(request.get("ChannelType")), reason))
        else:
            clean["ChannelType"] = channel

    if "Address" in request or creating:
        raw = request.get("Address")
        if not isinstance(raw, str) or not raw.strip():
            issues.append(Issue("Address", _show(raw), "Address is required"))
        elif channel is not None or not creating:
            # A partial update may change the address alone: judge it by its look.
            judge_as = channel or ("EMAIL" if "@" in raw else "CUSTOM")
            try:
                clean["Address"] = normalise_address(judge_as, raw, default_region)
            except AddressError as exc:
                issues.append(Issue("Address", raw, f"address {exc}"))

    if "Attributes" in request:
        attrs = _string_lists(request["Attributes"], "Attributes", MAX_ATTRIBUTES, issues)
        if attrs is not None:
            clean["Attributes"] = attrs
    if "User" in request:
        user = _user(request["User"], issues)
        if user is not None:
            clean["User"] = user
    if "Metrics" in request:
        metrics = _metrics(request["Metrics"], issues)
        if metrics is not None:
            clean["Metrics"] = metrics
    if "Demographic" in request:
        demographic = _demographic(request["Demographic"], issues)
        if demographic is not None:
            clean["Demographic"] = demographic
    if "Location" in request:
        location = _location(request["Location"], issues)
        if location is not None:
            clean["Location"] = location
    if "OptOut" in request:
        opt_out = _choice(request["OptOut"], "OptOut", OPT_OUT_VALUES, issues)
        if opt_out is not None:
            clean["OptOut"] = opt_out
    if "EndpointStatus" in request:
        status = _choice(
            request["EndpointStatus"], "EndpointStatus", ENDPOINT_STATUS_VALUES, issues
        )
        if status is not None:
            clean["EndpointStatus"] = status
    if "EffectiveDate" in request:
        raw_date = request["EffectiveDate"]
        try:
            clean["EffectiveDate"] = iso(parse_iso(str(raw_date)))
        except ValueError:
            issues.append(
                Issue("EffectiveDate", _show(raw_date), "must be an ISO-8601 date or timestamp")
            )
    if "RequestId" in request:
        request_id = request["RequestId"]
        if not isinstance(request_id, str) or len(request_id) > MAX_REQUEST_ID:
            issues.append(
                Issue(
                    "RequestId", _show(request_id), f"must be a string of at most {MAX_REQUEST_ID}"
                )
            )
        else:
            clean["RequestId"] = request_id
    return clean, issues


def validate_endpoint_request(
    request: Mapping[str, Any], *, path: str, default_region: str | None, creating: bool
) -> tuple[dict[str, Any], list[Problem]]:
    """:func:`check_request` with each issue as a ``Problem`` at ``path.field``."""
    clean, issues = check_request(request, default_region=default_region, creating=creating)
    problems = [
        Problem(
            f"{path}.{issue.field}" if path else issue.field,
            issue.reason if issue.value is None else f"{issue.value!r}: {issue.reason}",
        )
        for issue in issues
    ]
    return clean, problems
