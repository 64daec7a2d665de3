"""Two evaluators, one meaning: for generated endpoints and definitions, the compiled SQL on
SQLite and PostgreSQL selects exactly the endpoints the pure Python evaluator accepts."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from renraku.domain.endpoints import Endpoint
from renraku.domain.segments import SegmentDefinition, endpoint_matches
from renraku.domain.timefmt import iso
from renraku.store import Store
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store
from renraku.store.schema import endpoints as endpoints_table
from renraku.store.segment_sql import index_relation, matching_endpoints, segment_counts

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from segment_strategies import CHANNELS, NOW, VALUES, definitions, dimensions, endpoint_lists

B_DEFINITION = st.one_of(dimensions().map(lambda d: {"Dimensions": d}))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    eps=endpoint_lists(),
    members=st.sets(st.integers(0, 9)),
    b_json=B_DEFINITION,
    defn=definitions(),
)
def test_sql_on_each_database_selects_exactly_what_the_python_evaluator_accepts(
    store: Store,
    eps: list[Endpoint],
    members: set[int],
    b_json: dict[str, object],
    defn: SegmentDefinition,
) -> None:
    from renraku.domain.segments import parse_segment_definition

    b_defn = parse_segment_definition(b_json)
    with store.engine.connect() as conn:
        trans = conn.begin()
        try:
            app_id = app_store.create_app(conn, "property", now=iso(NOW))["Id"]
            eps = [Endpoint(**{**_fields(ep), "app_id": app_id}) for ep in eps]
            endpoint_store.upsert_many(conn, eps)
            imported = segment_store.import_segment_for(
                conn, app_id, "A", now=iso(NOW), import_definition={}
            )
            member_ids = {ep.id for i, ep in enumerate(eps) if i in members}
            segment_store.add_members(conn, app_id, imported, sorted(member_ids))
            segment_store.create_dimensional(
                conn, app_id, name="B", definition=b_defn.to_json(), tags={}, now=iso(NOW)
            )
            segment_store.create_dimensional(
                conn, app_id, name="S", definition=defn.to_json(), tags={}, now=iso(NOW)
            )
            stored = [
                endpoint_store.from_row(r)
                for r in conn.execute(
                    select(endpoints_table).where(endpoints_table.c.app_id == app_id)
                )
            ]
            by_sql = {r.id for r in conn.execute(matching_endpoints(conn, app_id, "S", now=NOW))}

            def sources(seg: str) -> SegmentDefinition | None:
                return b_defn if seg == "B" else None

            by_python = {
                ep.id
                for ep in stored
                if endpoint_matches(
                    defn,
                    ep,
                    now=NOW,
                    members=lambda seg, ep=ep: seg == "A" and ep.id in member_ids,
                    sources=sources,
                )
            }
        finally:
            trans.rollback()
    event("selected none" if not by_python else "selected all" if len(by_python) == len(stored)
          else "selected some")  # fmt: skip
    assert by_sql == by_python, (defn.to_json(), [ep.to_pinpoint() for ep in stored])


def _fields(ep: Endpoint) -> dict[str, object]:
    return {f: getattr(ep, f) for f in Endpoint.__dataclass_fields__}


@st.composite
def index_shaped(draw: st.DrawFn) -> SegmentDefinition:
    """Definitions the attribute index answers alone: channel and (user) attribute sets."""
    from renraku.domain.segments import parse_segment_definition

    dims: dict[str, object] = {}
    if draw(st.booleans()):
        dims["Demographic"] = {"Channel": {
            "DimensionType": draw(st.sampled_from(("INCLUSIVE", "EXCLUSIVE"))),
            "Values": draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=2, unique=True))}}  # fmt: skip
    attrs = {}
    names = draw(st.lists(st.sampled_from(("CallStatus", "Tag")), min_size=1, unique=True))
    for name in names:
        attrs[name] = {
            # The first is INCLUSIVE: the index drives from it.
            "AttributeType": "INCLUSIVE"
            if name == names[0]
            else draw(st.sampled_from(("INCLUSIVE", "EXCLUSIVE"))),
            "Values": draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=2, unique=True)),
        }
    dims["Attributes"] = attrs
    if draw(st.booleans()):
        dims["UserAttributes"] = {"Plan": {"AttributeType": "INCLUSIVE", "Values": draw(
            st.lists(st.sampled_from(VALUES), min_size=1, max_size=2, unique=True))}}  # fmt: skip
    return parse_segment_definition({"Dimensions": dims})


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    eps=endpoint_lists(),
    changed=endpoint_lists(),
    deleted=st.sets(st.integers(0, 9)),
    defn=index_shaped(),
)
def test_the_attribute_index_follows_inserts_updates_and_deletes_and_agrees_with_python(
    store: Store,
    eps: list[Endpoint],
    changed: list[Endpoint],
    deleted: set[int],
    defn: SegmentDefinition,
) -> None:
    with store.engine.connect() as conn:
        trans = conn.begin()
        try:
            app_id = app_store.create_app(conn, "index", now=iso(NOW))["Id"]
            endpoint_store.upsert_many(conn, [_in_app(ep, app_id) for ep in eps])
            # Re-imports change channels, users and attributes of some endpoints in place.
            endpoint_store.upsert_rows(
                conn, [endpoint_store.to_row(_in_app(ep, app_id)) for ep in changed[::2]]
            )
            for i in sorted(deleted):
                if endpoint_store.find(conn, app_id, f"ep{i}") is not None:
                    endpoint_store.delete_one(conn, app_id, f"ep{i}")
            segment_store.create_dimensional(
                conn, app_id, name="S", definition=defn.to_json(), tags={}, now=iso(NOW)
            )
            stored = [
                endpoint_store.from_row(r)
                for r in conn.execute(
                    select(endpoints_table).where(endpoints_table.c.app_id == app_id)
                )
            ]
            rows = conn.execute(matching_endpoints(conn, app_id, "S", now=NOW)).all()
            counts = segment_counts(conn, app_id, "S", now=NOW)
        finally:
            trans.rollback()
    expected = [ep for ep in stored if endpoint_matches(defn, ep, now=NOW)]
    assert index_relation(defn, app_id) is not None
    assert sorted((r.id, r.user_id) for r in rows) == sorted((e.id, e.user_id) for e in expected)
    assert counts["Count"] == len(expected)
    assert counts["Users"] == len({e.participant for e in expected})


def _in_app(ep: Endpoint, app_id: str) -> Endpoint:
    return Endpoint(**{**_fields(ep), "app_id": app_id})
