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
from renraku.store.segment_sql import matching_endpoints

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from segment_strategies import NOW, definitions, dimensions, endpoint_lists

B_DEFINITION = st.one_of(dimensions().map(lambda d: {"Dimensions": d}))


@settings(
    max_examples=150,
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
