"""Segment definitions compiled to one SQL predicate over ``endpoints``, per dialect.

The predicate means exactly what ``renraku.domain.segments.endpoint_matches`` means (a property
test checks both on SQLite and PostgreSQL). Every piece is two-valued (never NULL), so NOT and the
NONE combinators cannot drop rows by accident.

PostgreSQL: attribute INCLUSIVE/EXCLUSIVE are JSONB containment (``attributes @> '{"CallStatus":
["PENDING"]}'``), answered by the GIN index of migration 0002; other attribute types walk
``jsonb_array_elements_text``. SQLite: ``json_each`` over the attribute's values. Both: scalar fields
through ``->>`` / ``json_extract``, the great-circle distance in SQL arithmetic written in the same
order as the Python evaluator (so both round alike), behind a latitude band that uses no trig.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from renraku.domain.segments.dates import (
    ENDPOINT_DATE_GLOB,
    ENDPOINT_DATE_POSIX,
    definition_date,
)
from renraku.domain.segments.evaluate import DEG, recency_cutoff
from renraku.domain.segments.model import (
    EARTH_RADIUS_KM,
    AttributeDimension,
    Dimensions,
    GPSPoint,
    MetricDimension,
    SegmentDefinition,
    SegmentGroup,
    SetDimension,
    SourceSegment,
)
from renraku.store.schema import endpoints, segment_members

Predicate = ColumnElement[bool]
_KIND = {"attributes": "A", "user_attributes": "U"}
SourcePredicate = Callable[[SourceSegment], Predicate]


def _num(value: float) -> ColumnElement[float]:
    # Bound as float8 so PostgreSQL does the arithmetic in double precision, as Python does.
    return literal(float(value), Float)


def _listed(app_id: str, kind: str, name: str, values: tuple[str, ...]) -> Predicate:
    """Endpoints having one of ``values`` for attribute ``name``: ``id IN (...)`` read from the
    attribute index, so the planner can start from the matching values."""
    from renraku.store.segments import endpoint_attribute_index as idx

    found: Predicate = endpoints.c.id.in_(
        select(idx.c.endpoint_id).where(
            idx.c.app_id == app_id, idx.c.kind == kind, idx.c.name == name, idx.c.value.in_(values)
        )
    )
    return found


def _probe(
    endpoint_id: Any,
    channel_type: Any,
    participant: Any,
    app_id: str,
    kind: str,
    name: str,
    values: tuple[str, ...],
) -> Predicate:
    """The same question for one row whose channel and participant are known: an ``EXISTS``
    that looks up the index's full key (one probe per value, never a scan)."""
    from renraku.store.segments import endpoint_attribute_index as idx

    y = idx.alias()
    return exists(
        select(1).where(
            y.c.app_id == app_id,
            y.c.kind == kind,
            y.c.name == name,
            y.c.value.in_(values),
            y.c.channel_type == channel_type,
            y.c.participant == participant,
            y.c.endpoint_id == endpoint_id,
        )
    )


class Compiler:
    """Compiles definitions for one dialect (``sqlite`` or ``postgresql``) at one instant."""

    def __init__(
        self,
        dialect: str,
        *,
        app_id: str,
        now: datetime,
        source: SourcePredicate,
        probe: bool = False,
    ) -> None:
        self.pg = dialect == "postgresql"
        self.app_id = app_id
        self.now = now
        self.source = source
        # probe: test rows found some other way (INCLUSIVE as a per-row EXISTS, not an IN list).
        self.probe = probe

    def probing(self) -> Compiler:
        return Compiler(
            "postgresql" if self.pg else "sqlite",
            app_id=self.app_id,
            now=self.now,
            source=self.source,
            probe=True,
        )

    # -- scalar reads -----------------------------------------------------------------------

    def _text(self, column: Any, key: str) -> ColumnElement[Any]:
        if self.pg:
            text: ColumnElement[Any] = type_coerce(column, JSONB)[key].astext
            return text
        return func.json_extract(column, f'$."{key}"')

    def _values(self, column: Any, name: str) -> Any:
        """The attribute's values as a one-column table ``value``."""
        if self.pg:
            return func.jsonb_array_elements_text(
                func.coalesce(type_coerce(column, JSONB)[name], literal_column("'[]'::jsonb"))
            ).table_valued("value")
        return func.json_each(column, f'$."{name}"').table_valued("value")

    # -- dimensions -------------------------------------------------------------------------

    def attribute(self, column: Any, name: str, dim: AttributeDimension) -> Predicate:

        kind = dim.attribute_type
        if kind == "INCLUSIVE" and not self.probe:
            return _listed(self.app_id, _KIND[column.name], name, dim.values)
        if kind in ("INCLUSIVE", "EXCLUSIVE"):
            found = _probe(
                endpoints.c.id,
                endpoints.c.channel_type,
                _participant(endpoints),
                self.app_id,
                _KIND[column.name],
                name,
                dim.values,
            )
            return found if kind == "INCLUSIVE" else not_(found)
        vals = self._values(column, name)
        value = vals.c.value
        if kind == "CONTAINS":
            hit = [
                (func.strpos(value, part) if self.pg else func.instr(value, part)) > 0
                for part in dim.values
            ]
            return exists(select(1).select_from(vals).where(or_(*hit)))
        if self.pg:
            is_date = value.op("~")(ENDPOINT_DATE_POSIX)
        else:
            is_date = and_(
                value.op("GLOB")(ENDPOINT_DATE_GLOB),
                or_(func.length(value) == 10, func.substr(value, 11, 1).in_(("T", " "))),
            )
        day = func.substr(value, 1, 10)
        bounds = [definition_date(v) or "" for v in dim.values]
        if kind == "BEFORE":
            test = day < bounds[0]
        elif kind == "AFTER":
            test = day > bounds[0]
        elif kind == "ON":
            test = day == bounds[0]
        else:
            test = and_(day >= bounds[0], day <= bounds[1])
        return exists(select(1).select_from(vals).where(and_(is_date, test)))

    def set_dimension(self, expr: ColumnElement[Any], dim: SetDimension) -> Predicate:
        listed = and_(expr.is_not(None), expr.in_(dim.values))
        return listed if dim.dimension_type == "INCLUSIVE" else not_(listed)

    def metric(self, name: str, dim: MetricDimension) -> Predicate:
        value = cast(self._text(endpoints.c.metrics, name), Float)
        bound = _num(dim.value)
        ops = {
            "GREATER_THAN": value > bound,
            "LESS_THAN": value < bound,
            "GREATER_THAN_OR_EQUAL": value >= bound,
            "LESS_THAN_OR_EQUAL": value <= bound,
            "EQUAL": value == bound,
        }
        return and_(value.is_not(None), ops[dim.operator])

    def gps(self, dim: GPSPoint) -> Predicate:
        lat, lon = endpoints.c.latitude, endpoints.c.longitude
        lat0, lon0, deg = _num(dim.latitude), _num(dim.longitude), _num(DEG)
        s1 = func.sin((lat - lat0) * deg / _num(2))
        s2 = func.sin((lon - lon0) * deg / _num(2))
        h = s1 * s1 + func.cos(lat0 * deg) * func.cos(lat * deg) * s2 * s2
        capped = func.least(_num(1), h) if self.pg else func.min(_num(1), h)
        distance = _num(2) * _num(EARTH_RADIUS_KM) * func.asin(func.sqrt(capped))
        # Within range means |dlat| <= range / R radians: a cheap band that only narrows.
        band = dim.range_km / EARTH_RADIUS_KM / DEG * 1.000001 + 1e-9
        return and_(
            lat.is_not(None),
            lon.is_not(None),
            lat.between(dim.latitude - band, dim.latitude + band),
            distance <= _num(dim.range_km),
        )

    def dimensions(self, dims: Dimensions) -> Predicate:
        parts: list[Predicate] = []
        both = self._listed_and_recent(dims)
        if both is not None:
            parts.append(both[1])
        for name, attr in dims.attributes.items():
            if both is None or both[0] != ("A", name):
                parts.append(self.attribute(endpoints.c.attributes, name, attr))
        for name, attr in dims.user_attributes.items():
            if both is None or both[0] != ("U", name):
                parts.append(self.attribute(endpoints.c.user_attributes, name, attr))
        for field, dim in dims.demographic.items():
            column = (
                endpoints.c.channel_type
                if field == "Channel"
                else self._text(endpoints.c.demographic, field)
            )
            parts.append(self.set_dimension(column, dim))
        if dims.country is not None:
            parts.append(
                self.set_dimension(self._text(endpoints.c.location, "Country"), dims.country)
            )
        if dims.gps is not None:
            parts.append(self.gps(dims.gps))
        for name, metric in dims.metrics.items():
            parts.append(self.metric(name, metric))
        if dims.recency is not None:
            cutoff = recency_cutoff(dims.recency, self.now)
            eff = endpoints.c.effective_date
            active = and_(eff.is_not(None), eff >= cutoff)
            parts.append(active if dims.recency.recency_type == "ACTIVE" else not_(active))
        return and_(true(), *parts) if parts else true()

    def _listed_and_recent(self, dims: Dimensions) -> tuple[tuple[str, str], Predicate] | None:
        """For a block with an INCLUSIVE attribute and ACTIVE recency: ``id IN (listed JOIN
        recent)`` in place of the attribute's own ``id IN (listed)``, both sets read from narrow
        indexes (the attribute index, and ``ix_endpoints_effective`` of migration
        0002_segments_recency) so that only endpoints in both are looked up by key, not every
        endpoint with the attribute. The recency condition itself stays in the block.
        Returns ((kind, attribute name) replaced, predicate), or None."""
        from renraku.store.segments import endpoint_attribute_index as idx

        if self.probe or dims.recency is None or dims.recency.recency_type != "ACTIVE":
            return None
        cutoff = recency_cutoff(dims.recency, self.now)
        found = [("A", n, d) for n, d in dims.attributes.items()]
        found += [("U", n, d) for n, d in dims.user_attributes.items()]
        driver = next((c for c in found if c[2].attribute_type == "INCLUSIVE"), None)
        if driver is None:
            return None
        kind, name, dim = driver
        recent = endpoints.alias("recent")
        # A join, not INTERSECT: PostgreSQL hashes the smaller side of a join, but sorts both
        # sides of an INTERSECT that does not fit work_mem (by collation: slow).
        both: Predicate = endpoints.c.id.in_(
            select(idx.c.endpoint_id)
            .join(
                recent,
                and_(recent.c.app_id == idx.c.app_id, recent.c.id == idx.c.endpoint_id),
            )
            .where(
                idx.c.app_id == self.app_id,
                idx.c.kind == kind,
                idx.c.name == name,
                idx.c.value.in_(dim.values),
                recent.c.app_id == self.app_id,
                recent.c.effective_date >= cutoff,
            )
        )
        return (kind, name), both

    # -- groups -----------------------------------------------------------------------------

    @staticmethod
    def _combine(kind: str, parts: list[Predicate]) -> Predicate:
        if kind == "ALL":
            return and_(true(), *parts)
        if kind == "ANY":
            return or_(false(), *parts)
        return not_(or_(false(), *parts))

    def group(self, group: SegmentGroup) -> Predicate:
        parts: list[Predicate] = []
        if group.sources:
            parts.append(self._combine(group.source_type, [self.source(s) for s in group.sources]))
        if group.dimensions:
            blocks = [self.dimensions(d) for d in group.dimensions]
            parts.append(self._combine(group.group_type, blocks))
        return and_(true(), *parts)

    def definition(self, defn: SegmentDefinition) -> Predicate:
        if defn.dimensions is not None:
            return self.dimensions(defn.dimensions)
        return self._combine(defn.include, [self.group(g) for g in defn.groups])


def compile_definition(
    defn: SegmentDefinition,
    dialect: str,
    *,
    app_id: str,
    now: datetime,
    source: SourcePredicate,
) -> Predicate:
    """The predicate over ``endpoints`` of application ``app_id`` for ``defn``; ``source`` gives
    each source segment's predicate."""
    return Compiler(dialect, app_id=app_id, now=now, source=source).definition(defn)


def _participant(table: Any) -> ColumnElement[Any]:
    # Endpoints without a user are each their own user (renraku.domain.endpoints).
    return case(
        (table.c.user_id.is_not(None), literal("u:") + table.c.user_id),
        else_=literal("e:") + table.c.id,
    )


def index_relation(defn: SegmentDefinition, app_id: str, *, pg: bool = False) -> Select[Any] | None:
    """The segment read from ``endpoint_attribute_index`` alone, when ``defn`` is one block of
    Channel and INCLUSIVE/EXCLUSIVE (user) attribute conditions with at least one INCLUSIVE;
    None otherwise. Columns: id, user_id, channel_type, participant (as ``endpoint_relation``)."""
    from renraku.store.segments import endpoint_attribute_index as idx

    dims = defn.dimensions
    if dims is None or dims.country or dims.gps or dims.metrics or dims.recency:
        return None
    if any(field != "Channel" for field in dims.demographic):
        return None
    conditions = [("A", n, d) for n, d in dims.attributes.items()]
    conditions += [("U", n, d) for n, d in dims.user_attributes.items()]
    if any(d.attribute_type not in ("INCLUSIVE", "EXCLUSIVE") for _, _, d in conditions):
        return None
    driver = next((c for c in conditions if c[2].attribute_type == "INCLUSIVE"), None)
    if driver is None:
        return None
    x = idx.alias("x")
    where: list[Predicate] = [
        x.c.app_id == app_id,
        x.c.kind == driver[0],
        x.c.name == driver[1],
        x.c.value.in_(driver[2].values),
    ]
    channel = dims.demographic.get("Channel")
    if channel is not None:
        on_channel: Predicate = x.c.channel_type.in_(channel.values)
        where.append(on_channel if channel.dimension_type == "INCLUSIVE" else not_(on_channel))
    for kind, name, dim in conditions:
        if (kind, name) == driver[:2]:
            continue
        found = _probe(
            x.c.endpoint_id, x.c.channel_type, x.c.participant, app_id, kind, name, dim.values
        )
        where.append(found if dim.attribute_type == "INCLUSIVE" else not_(found))
    user_id = case(
        (func.substr(x.c.participant, 1, 2) == "u:", func.substr(x.c.participant, 3)),
        else_=literal(None, String),
    )
    stmt = select(
        x.c.endpoint_id.label("id"),
        user_id.label("user_id"),
        x.c.channel_type.label("channel_type"),
        x.c.participant.label("participant"),
    ).where(*where)
    # One value: the index's key makes each endpoint appear once; several values may repeat it.
    return stmt.distinct() if len(driver[2].values) > 1 else stmt


def _endpoint_columns(where: Predicate) -> Select[Any]:
    return select(
        endpoints.c.id,
        endpoints.c.user_id,
        endpoints.c.channel_type,
        _participant(endpoints).label("participant"),
    ).where(where)


def endpoint_relation(
    conn: Connection, app_id: str, segment_key: str, *, now: datetime
) -> Select[Any]:
    return _relation(conn, app_id, segment_key, now=now)[0]


def _relation(
    conn: Connection, app_id: str, segment_key: str, *, now: datetime
) -> tuple[Select[Any], bool]:
    """(relation, read from the attribute index alone). The segment's endpoints (current version) as columns id, user_id, channel_type and
    participant. A block of channel and attribute sets reads the attribute index alone; groups
    joined by Include ANY become a UNION of one query per group, each with its own best index;
    anything else is one compiled predicate over ``endpoints``."""
    from renraku.store.segments import resolver

    found = resolver(conn, app_id)
    _, defn = found.kind_and_definition(segment_key)
    if defn is None:
        where = and_(endpoints.c.app_id == app_id, found.predicate(segment_key, now=now))
        return _endpoint_columns(where), False
    fast = index_relation(defn, app_id)
    if fast is not None:
        return fast, True
    compiler = found.compiler(now=now)
    if defn.dimensions is None and defn.include == "ANY" and len(defn.groups) > 1:
        return _any_of(defn.groups, app_id, compiler), False
    return _endpoint_columns(and_(endpoints.c.app_id == app_id, compiler.definition(defn))), False


def _any_of(groups: tuple[SegmentGroup, ...], app_id: str, compiler: Compiler) -> Select[Any]:
    """Groups joined by Include ANY as a UNION ALL of one query per group, each with its own best
    index. Each group leaves out the endpoints of the groups before it (tested per row, by
    probes), so the parts are disjoint and no DISTINCT over the whole result is needed. A group
    the attribute index answers alone goes first and reads only the index."""

    def alone(group: SegmentGroup) -> Select[Any] | None:
        if group.sources or len(group.dimensions) != 1:
            return None
        return index_relation(SegmentDefinition(dimensions=group.dimensions[0]), app_id)

    ordered = sorted(groups, key=lambda g: alone(g) is None)
    probing = compiler.probing()
    parts: list[Select[Any]] = []
    for i, group in enumerate(ordered):
        first = alone(group) if i == 0 else None
        if first is not None:
            parts.append(first)
            continue
        earlier = [probing.group(g) for g in ordered[:i]]
        where = and_(endpoints.c.app_id == app_id, compiler.group(group))
        if earlier:
            where = and_(where, not_(or_(false(), *earlier)))
        parts.append(_endpoint_columns(where))
    union = union_all(*parts).subquery("groups")
    return select(union.c.id, union.c.user_id, union.c.channel_type, union.c.participant)


def imported_members(app_id: str, segment_id: str) -> Predicate:
    """Endpoints that are members of the imported segment ``segment_id``."""
    return endpoints.c.id.in_(
        select(segment_members.c.endpoint_id).where(
            and_(segment_members.c.app_id == app_id, segment_members.c.segment_id == segment_id)
        )
    )


def segment_predicate(
    conn: Connection, app_id: str, segment_key: str, *, now: datetime
) -> Predicate:
    """The predicate for a stored segment (current version), source segments resolved."""
    from renraku.store.segments import resolver

    return resolver(conn, app_id).predicate(segment_key, now=now)


def tune_for_segments(conn: Connection) -> None:
    """Settings for the rest of the current transaction that suit segment queries.

    PostgreSQL's JIT compiles these plans (their estimated cost is high, their run time short)
    for over a second at a million endpoints, longer than the query itself; it is turned off with
    ``SET LOCAL``, which ends with the transaction. Callers running ``matching_endpoints`` on
    large audiences (journey entry) should call this first. A no-op on SQLite.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off", execution_options={"stream_results": False})


def matching_endpoints(
    conn: Connection, app_id: str, segment_id: str, *, now: datetime
) -> Select[Any]:
    """``SELECT id, user_id`` of the endpoints in the segment's current version (a subquery for
    journey entry). Imported segments read ``segment_members``; dimensional ones are compiled."""
    rel = endpoint_relation(conn, app_id, segment_id, now=now)
    return rel.with_only_columns(rel.selected_columns.id, rel.selected_columns.user_id)


def segment_counts(
    conn: Connection, app_id: str, segment_key: str, *, now: datetime
) -> dict[str, Any]:
    """``{"Count": endpoints, "Users": users, "ByChannel": {channel: endpoints}}``."""
    tune_for_segments(conn)
    rel, from_index = _relation(conn, app_id, segment_key, now=now)
    if from_index:
        # Two range scans of the narrow index cost less than materialising the matches.
        matched: Any = rel.subquery("matched")
    else:
        # One pass over the wide rows, kept for both aggregates.
        matched = rel.cte("matched").prefix_with("MATERIALIZED")
    users = select(matched.c.participant).group_by(matched.c.participant).subquery("users")
    stmt = union_all(
        select(literal(0), matched.c.channel_type, func.count()).group_by(matched.c.channel_type),
        select(literal(1), literal(None, String), func.count()).select_from(users),
    )
    by_channel: dict[str, int] = {}
    users_count = 0
    for part, channel, n in conn.execute(stmt):
        if part == 0:
            by_channel[str(channel)] = int(n)
        else:
            users_count += int(n)
    by_channel = dict(sorted(by_channel.items()))
    return {"Count": sum(by_channel.values()), "Users": users_count, "ByChannel": by_channel}
