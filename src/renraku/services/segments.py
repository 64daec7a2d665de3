"""Segment use cases: create and update (checked whole), show, count, preview, export, delete, and
the matcher journeys use for splits.

A definition arrives as Pinpoint JSON or as a one-line filter. Before anything is stored, every
source segment it names must exist (an id, or a name that is turned into the id), a pinned version
must exist, and following source segments must never lead back to the segment itself.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, select

from renraku.domain.endpoints import DEMOGRAPHIC_FIELDS, LOCATION_FIELDS, Endpoint
from renraku.domain.segments import (
    SegmentDefinition,
    SourceSegment,
    endpoint_matches,
    format_filter,
    parse_filter,
    parse_segment_definition,
)
from renraku.engine import entry
from renraku.errors import Conflict, InvalidInput, NotFound, Problem
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store
from renraku.store.schema import endpoints, segment_members
from renraku.store.segment_sql import segment_counts, segment_predicate, tune_for_segments

if TYPE_CHECKING:
    from renraku.app import App

MAX_NAME = 256


def definition_from(
    *, definition: Mapping[str, Any] | None = None, where: str | None = None
) -> SegmentDefinition:
    """The definition given as Pinpoint JSON (``{"Dimensions": ...}`` / ``{"SegmentGroups": ...}``)
    or as a one-line filter (exactly one of the two)."""
    if (definition is None) == (where is None):
        raise InvalidInput("give the definition as a filter or as JSON (one of them)",
                           subject="segment definition")  # fmt: skip
    if where is not None:
        return parse_filter(where)
    assert definition is not None
    return parse_segment_definition(definition)


def _read_definition(
    conn: Connection,
    app_id: str,
    *,
    definition: Mapping[str, Any] | None,
    where: str | None,
) -> SegmentDefinition:
    """``definition_from``, and when the JSON is rejected, missing source segments are listed
    with the other problems (so one attempt shows everything to fix)."""
    try:
        return definition_from(definition=definition, where=where)
    except InvalidInput as exc:
        groups = (definition or {}).get("SegmentGroups")
        extra: list[Problem] = []
        if isinstance(groups, Mapping) and isinstance(groups.get("Groups"), list):
            for gi, group in enumerate(groups["Groups"]):
                sources = group.get("SourceSegments") if isinstance(group, Mapping) else None
                for si, source in enumerate(sources if isinstance(sources, list) else []):
                    seg = source.get("Id") if isinstance(source, Mapping) else None
                    if isinstance(seg, str) and segment_store.find_row(conn, app_id, seg) is None:
                        where_ = f"SegmentGroups.Groups[{gi}].SourceSegments[{si}].Id"
                        extra.append(Problem(where_, _missing(seg)))
        if not extra:
            raise
        raise InvalidInput([*exc.problems, *extra], subject=exc.subject) from exc


def _missing(seg: str) -> str:
    return f"no segment {seg!r} in this application; give the id or name of an existing segment"


def _check_sources(
    conn: Connection, app_id: str, defn: SegmentDefinition, *, self_id: str | None
) -> SegmentDefinition:
    """Resolve source names to ids and reject missing segments, versions and circles."""
    if defn.dimensions is not None:
        return defn
    problems: list[Problem] = []
    resolver = segment_store.resolver(conn, app_id)
    doc = defn.to_json()
    for gi, group in enumerate(doc["SegmentGroups"]["Groups"]):
        for si, source in enumerate(group.get("SourceSegments") or []):
            where = f"SegmentGroups.Groups[{gi}].SourceSegments[{si}]"
            found = segment_store.find_row(conn, app_id, source["Id"])
            if found is None:
                problems.append(Problem(f"{where}.Id", _missing(source["Id"])))
                continue
            source["Id"] = str(found.id)
            version = source.get("Version")
            if version is not None:
                try:
                    resolver.kind_and_definition(found.id, version)
                except NotFound:
                    problems.append(Problem(f"{where}.Version", f"segment {found.name!r} has "
                                            f"versions 1 to {found.version}"))  # fmt: skip
                    continue
            if self_id is not None:
                path = _circle(resolver, found.id, version, self_id, [found.id])
                if path is not None:
                    problems.append(Problem(f"{where}.Id", "circular source segment reference: "
                                            + " -> ".join([self_id, *path])))  # fmt: skip
    if problems:
        raise InvalidInput(problems, subject="segment definition")
    return parse_segment_definition(doc)


def _circle(
    resolver: segment_store.Resolver,
    seg_id: str,
    version: int | None,
    target: str,
    trail: list[str],
) -> list[str] | None:
    if seg_id == target:
        return trail
    if len(trail) > 32:
        return trail
    _, defn = resolver.kind_and_definition(seg_id, version)
    for group in defn.groups if defn is not None else ():
        for source in group.sources:
            found = _circle(resolver, source.id, source.version, target, [*trail, source.id])
            if found is not None:
                return found
    return None


def _check_name(name: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME:
        raise InvalidInput([Problem("Name", f"1 to {MAX_NAME} characters")], subject="segment")
    return clean


def create(
    app: App,
    app_id: str,
    name: str,
    *,
    definition: Mapping[str, Any] | None = None,
    where: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Create a dimensional segment (Pinpoint's CreateSegment); returns its SegmentResponse."""
    clean_name = _check_name(name)
    with app.store.begin() as conn:
        defn = _read_definition(conn, app_id, definition=definition, where=where)
        defn = _check_sources(conn, app_id, defn, self_id=None)
        seg_id = segment_store.create_dimensional(
            conn, app_id, name=clean_name, definition=defn.to_json(), tags=dict(tags or {}),
            now=app.now_iso(),
        )  # fmt: skip
        return describe(conn, app_id, seg_id)


def update(
    app: App,
    app_id: str,
    key: str,
    *,
    definition: Mapping[str, Any] | None = None,
    where: str | None = None,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Write a new version of a segment (Pinpoint's UpdateSegment)."""
    with app.store.begin() as conn:
        current = segment_store.row(conn, app_id, key)
        new_json = None
        if definition is not None or where is not None:
            if current.segment_type == "IMPORT":
                raise Conflict(f"segment {current.name!r} is imported; its members come from "
                               "import jobs, not from a definition")  # fmt: skip
            defn = _read_definition(conn, app_id, definition=definition, where=where)
            new_json = _check_sources(conn, app_id, defn, self_id=str(current.id)).to_json()
        segment_store.update_definition(
            conn, app_id, current.id, now=app.now_iso(), definition=new_json,
            name=None if name is None else _check_name(name),
            tags=None if tags is None else dict(tags),
        )  # fmt: skip
        entry.segment_changed(conn, app_id, app.now_iso(), segment_id=str(current.id))
        return describe(conn, app_id, current.id)


def describe(
    conn: Connection, app_id: str, key: str, *, version: int | None = None
) -> dict[str, Any]:
    """The SegmentResponse (of ``version``, else the current one) plus its one-line ``Filter``."""
    if version is None:
        out = segment_store.get(conn, app_id, key)
    else:
        out = segment_store.get_version(conn, app_id, key, version)
    if out["SegmentType"] != "IMPORT":
        defn = parse_segment_definition(
            {k: out[k] for k in ("Dimensions", "SegmentGroups") if k in out}
        )
        out["Filter"] = format_filter(defn)
    return out


def show(app: App, app_id: str, key: str, *, version: int | None = None) -> dict[str, Any]:
    with app.store.connect() as conn:
        return describe(conn, app_id, key, version=version)


def versions(app: App, app_id: str, key: str) -> list[dict[str, Any]]:
    with app.store.connect() as conn:
        return segment_store.versions(conn, app_id, key)


def count(app: App, app_id: str, key: str) -> dict[str, Any]:
    """``{"Count": endpoints, "Users": users, "ByChannel": {channel: endpoints}}`` right now."""
    with app.store.connect() as conn:
        return segment_counts(conn, app_id, key, now=app.clock.now())


def _rows(conn: Connection, app_id: str, key: str, now: datetime, *, by_user: bool) -> Any:
    tune_for_segments(conn)
    where = and_(endpoints.c.app_id == app_id, segment_predicate(conn, app_id, key, now=now))
    order = (endpoints.c.user_id, endpoints.c.id) if by_user else (endpoints.c.id,)
    stmt = select(endpoints).where(where).order_by(*order)
    return conn.execute(stmt, execution_options={"stream_results": True, "yield_per": 2000})


def preview(
    app: App, app_id: str, key: str, *, limit: int = 20, users: bool = False
) -> list[dict[str, Any]]:
    """The first ``limit`` endpoints (Pinpoint's EndpointResponse), or the first ``limit`` users
    (``{"UserId": ..., "Endpoints": [...]}``, an endpoint without a user alone), in id order."""
    if limit < 1:
        raise InvalidInput([Problem("limit", "must be at least 1")], subject="preview")
    out: list[dict[str, Any]] = []
    with app.store.connect() as conn:
        segment_store.row(conn, app_id, key)
        with _rows(conn, app_id, key, app.clock.now(), by_user=users) as rows:
            _collect(rows, out, limit, users=users)
    return out


def _collect(rows: Any, out: list[dict[str, Any]], limit: int, *, users: bool) -> None:
    for r in rows:
        ep = endpoint_store.from_row(r)
        if not users:
            out.append(ep.to_pinpoint())
        elif out and ep.user_id is not None and out[-1]["UserId"] == ep.user_id:
            out[-1]["Endpoints"].append(ep.to_pinpoint())
        elif len(out) < limit:
            out.append({"UserId": ep.user_id, "Endpoints": [ep.to_pinpoint()]})
        else:
            return
        if not users and len(out) >= limit:
            return


def _cells(ep: Endpoint) -> Iterator[tuple[str, str]]:
    """(column, value) pairs of ``ep`` in the import CSV format; repeated for several values."""
    yield "Id", ep.id
    yield "ChannelType", ep.channel_type
    yield "Address", ep.address
    if ep.user_id is not None:
        yield "User.UserId", ep.user_id
    yield "OptOut", ep.opt_out
    yield "EndpointStatus", ep.endpoint_status
    if ep.effective_date:
        yield "EffectiveDate", ep.effective_date
    for name in sorted(ep.attributes):
        for value in ep.attributes[name]:
            yield f"Attributes.{name}", value
    for name in sorted(ep.user_attributes):
        for value in ep.user_attributes[name]:
            yield f"User.UserAttributes.{name}", value
    for name in DEMOGRAPHIC_FIELDS:
        if ep.demographic.get(name) not in (None, ""):
            yield f"Demographic.{name}", str(ep.demographic[name])
    for name in LOCATION_FIELDS:
        if ep.location.get(name) not in (None, ""):
            yield f"Location.{name}", str(ep.location[name])
    for name in sorted(ep.metrics):
        yield f"Metrics.{name}", repr(float(ep.metrics[name]))


def export(app: App, app_id: str, key: str, out: IO[str]) -> int:
    """Write the segment's endpoints as CSV in the import format (a repeated ``Attributes.x``
    column holds several values); returns the number of endpoints written."""
    now = app.clock.now()
    with app.store.connect() as conn:
        segment_store.row(conn, app_id, key)
        widths: dict[str, int] = {}
        with _rows(conn, app_id, key, now, by_user=False) as rows:
            for r in rows:
                seen: dict[str, int] = {}
                for column, _ in _cells(endpoint_store.from_row(r)):
                    seen[column] = seen.get(column, 0) + 1
                for column, n in seen.items():
                    widths[column] = max(widths.get(column, 0), n)
        header = [c for c in widths for _ in range(widths[c])]
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        written = 0
        rows = _rows(conn, app_id, key, now, by_user=False)
        for r in rows:
            values: dict[str, list[str]] = {}
            for column, value in _cells(endpoint_store.from_row(r)):
                values.setdefault(column, []).append(value)
            line: list[str] = []
            for column in widths:
                got = values.get(column, [])
                line.extend(got + [""] * (widths[column] - len(got)))
            writer.writerow(line)
            written += 1
    return written


def delete(app: App, app_id: str, key: str) -> dict[str, Any]:
    """Delete a segment (and its members and versions); refused while another segment uses it."""
    with app.store.begin() as conn:
        current = segment_store.row(conn, app_id, key)
        users = segment_store.referrers(conn, app_id, current.id)
        if users:
            named = [f"{segment_store.row(conn, app_id, u).name} ({u})" for u in users]
            raise Conflict(f"segment {current.name!r} is a source of segment(s) "
                           f"{', '.join(named)}; change or delete them first")  # fmt: skip
        response = segment_store.to_response(current)
        segment_store.delete_segment(conn, app_id, current.id)
    return response


def matcher(
    conn: Connection, app_id: str, segment_key: str, *, now: datetime
) -> Callable[[Endpoint], bool]:
    """A test of one endpoint against the segment's current version, for journey splits.

    Definitions are read now; imported membership is read per endpoint through ``conn`` (so use
    the matcher while ``conn`` is open). Same meaning as ``matching_endpoints``.
    """
    resolver = segment_store.resolver(conn, app_id)
    seg_id, defn = resolver.kind_and_definition(segment_key)
    cache: dict[tuple[str, str], bool] = {}

    def is_member(segment_id: str, endpoint_id: str) -> bool:
        key = (segment_id, endpoint_id)
        if key not in cache:
            cache[key] = (
                conn.execute(
                    select(segment_members.c.endpoint_id).where(
                        and_(
                            segment_members.c.app_id == app_id,
                            segment_members.c.segment_id == segment_id,
                            segment_members.c.endpoint_id == endpoint_id,
                        )
                    )
                ).first()
                is not None
            )
        return cache[key]

    def sources(token: str) -> SegmentDefinition | None:
        source_id, version = _unpin(token)
        found = resolver.kind_and_definition(source_id, version)[1]
        return None if found is None else _pin(found)

    def member(token: str, endpoint_id: str) -> bool:
        return is_member(resolver.kind_and_definition(_unpin(token)[0])[0], endpoint_id)

    if defn is None:
        return lambda ep: is_member(seg_id, ep.id)
    pinned = _pin(defn)

    def matches(ep: Endpoint) -> bool:
        return endpoint_matches(
            pinned, ep, now=now, members=lambda sid: member(sid, ep.id), sources=sources
        )

    return matches


_PIN = "\x1f"


def _pin(defn: SegmentDefinition) -> SegmentDefinition:
    """``defn`` with each pinned source written as one token, so the evaluator's one-argument
    callbacks still see the version (``_unpin`` reads it back)."""
    if defn.dimensions is not None:
        return defn
    groups = tuple(
        replace(
            g,
            sources=tuple(
                SourceSegment(s.id if s.version is None else f"{s.id}{_PIN}{s.version}")
                for s in g.sources
            ),
        )
        for g in defn.groups
    )
    return replace(defn, groups=groups)


def _unpin(token: str) -> tuple[str, int | None]:
    seg_id, _, version = token.partition(_PIN)
    return seg_id, int(version) if version else None


def list_segments(app: App, app_id: str) -> list[dict[str, Any]]:
    with app.store.connect() as conn:
        return segment_store.list_all(conn, app_id)


def require(app: App, app_id: str, key: str) -> dict[str, Any]:
    """The segment's SegmentResponse; NotFound names the key."""
    with app.store.connect() as conn:
        found = segment_store.find_row(conn, app_id, key)
        if found is None:
            raise NotFound("segment", key)
        return segment_store.to_response(found)
