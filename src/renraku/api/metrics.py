"""Prometheus metrics: request counts and latency per route, plus store gauges read at scrape time.

Each API instance has its own registry (nothing global), so tests and several servers in one
process do not share counters. With ``--workers N`` each process reports its own requests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from renraku.app import App

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ROUTE_KEY = "renraku.route"


class StoreCollector(Collector):
    """Gauges read from the store at scrape time: journeys by state, participants, sends and calls
    by status, and the queue depth (active participants whose wake-up time has come)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from renraku.store.calls import calls
        from renraku.store.journeys import journeys
        from renraku.store.participants import participants
        from renraku.store.sends import sends

        by_status: list[tuple[str, str, Any]] = [
            ("renraku_journeys", "Journeys by state.", journeys.c.state),
            (
                "renraku_journey_participants",
                "Journey participants by status.",
                participants.c.status,
            ),
            ("renraku_sends", "Sends by status.", sends.c.status),
            ("renraku_calls", "Calls by status.", calls.c.status),
        ]
        with self.app.store.connect() as conn:
            for metric, help_text, status_col in by_status:
                family = GaugeMetricFamily(metric, help_text, labels=["status"])
                rows = conn.execute(select(status_col, func.count()).group_by(status_col))
                for status, count in rows:
                    family.add_metric([str(status)], float(count))
                yield family
            due = conn.execute(
                select(func.count())
                .select_from(participants)
                .where(participants.c.status == "ACTIVE")
                .where(participants.c.wake_at <= self.app.now_iso())
            ).scalar_one()
        queue = GaugeMetricFamily(
            "renraku_journey_queue_depth", "Active participants whose wake-up time has come."
        )
        queue.add_metric([], float(due))
        yield queue


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
