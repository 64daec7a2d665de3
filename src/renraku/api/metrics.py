"""Prometheus metrics: request counts and latency per route, plus store gauges read at scrape time.

Each API instance has its own registry (nothing global), so tests and several servers in one
process do not share counters. With ``--workers N`` each process reports its own requests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import column, func, inspect, select, table
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from renraku.app import App

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ROUTE_KEY = "renraku.route"


class StoreCollector(Collector):
    """Row counts by status from the tables that exist (journeys, participants, sends)."""

    # table name -> (metric name, help, status column)
    TABLES: ClassVar[dict[str, tuple[str, str, str]]] = {
        "journeys": ("renraku_journeys", "Journeys by state.", "state"),
        "participants": (
            "renraku_journey_participants",
            "Journey participants by status.",
            "status",
        ),
        "sends": ("renraku_sends", "Sends by status.", "status"),
    }

    def __init__(self, app: App) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self.app.store.connect() as conn:
                inspector = inspect(conn)
                present = set(inspector.get_table_names())
                for name, (metric, help_text, column_name) in self.TABLES.items():
                    if name not in present:
                        continue
                    if column_name not in {c["name"] for c in inspector.get_columns(name)}:
                        continue
                    status_col: Any = column(column_name)
                    family = GaugeMetricFamily(metric, help_text, labels=["status"])
                    rows = conn.execute(
                        select(status_col, func.count())
                        .select_from(table(name))
                        .group_by(status_col)
                    )
                    for status, count in rows:
                        family.add_metric([str(status)], float(count))
                    yield family
        except Exception:
            return


class Metrics:
    """The registry and the request instruments."""

    def __init__(self, app: App) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "renraku_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "renraku_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.registry.register(StoreCollector(app))

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE)

    async def endpoint(self, request: Request) -> Response:
        return self.render()


class MetricsMiddleware:
    """Counts and times every HTTP request under its route template (never the raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get(ROUTE_KEY)
            if route is None:
                matched = scope.get("route")
                route = getattr(matched, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
