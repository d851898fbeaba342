"""What the service is doing, for its operator: `GET /metrics` in Prometheus' text format (the
`prometheus-client` library), with the operator's key.

- `reelrank_requests_total{method, route, status}` and `reelrank_request_seconds{method, route}`:
  every request, by its route's template (`/users/{user_id}/ratings`), never its raw path, so
  ids do not become label values;
- `reelrank_ratings_written_total`, `reelrank_ratings_deleted_total`: acknowledged writes;
- `reelrank_lists_served_total{basis}`: lists served, `personal` or `popular`;
- `reelrank_store_ratings`, `reelrank_store_users`: the store's size, read at each scrape;
- `reelrank_model_info{version, preset}` and `reelrank_model_saved_timestamp_seconds`: which model
  is served and when it was saved (the model's age is `time() - saved`).

Each app has its own registry; with `--workers N` each worker counts its own requests, and a
scrape reaches one of them (the `worker` label says which process answered).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelrank.errors import StoreError
from reelrank.service.auth import Operator

# Request latency buckets: a list takes about 1-10 ms, a write 3-20 ms, a slow one more.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ServiceMetrics:
    """The counters and gauges of one app, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        worker = str(os.getpid())
        self.requests = Counter(
            "reelrank_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status", "worker"],
            registry=self.registry,
        ).labels
        self.latency = Histogram(
            "reelrank_request_seconds",
            "Time from a request's arrival to its response's last byte.",
            ["method", "route", "worker"],
            buckets=BUCKETS,
            registry=self.registry,
        ).labels
        self.written = Counter(
            "reelrank_ratings_written",
            "Ratings written to the store and acknowledged.",
            ["worker"],
            registry=self.registry,
        ).labels(worker)
        self.deleted = Counter(
            "reelrank_ratings_deleted",
            "Stored ratings deleted.",
            ["worker"],
            registry=self.registry,
        ).labels(worker)
        self._lists = Counter(
            "reelrank_lists_served",
            "Recommendation lists served, personal or the most popular movies.",
            ["basis", "worker"],
            registry=self.registry,
        )
        self._model = Gauge(
            "reelrank_model_info",
            "The model being served: 1, labelled with its version and preset.",
            ["version", "preset"],
            registry=self.registry,
        )
        self._saved = Gauge(
            "reelrank_model_saved_timestamp_seconds",
            "When the served artifact was saved (Unix time; NaN for a model from memory).",
            registry=self.registry,
        )
        self.swaps = Counter(
            "reelrank_model_swaps",
            "New models taken up while serving, and artifacts refused.",
            ["outcome", "worker"],
            registry=self.registry,
        )
        self.worker = worker
        self.saved_at: float | None = None  # when the served artifact was saved

    def served(self, basis: str) -> None:
        """Count a list served: "personal", or "popular" (the most popular movies instead)."""
        self._lists.labels(basis, self.worker).inc()

    def describe_model(self, version: str, preset: str, saved: float | None) -> None:
        """Name the served model (when it is loaded, and again at each swap)."""
        self._model.clear()
        self._model.labels(version, preset).set(1)
        self._saved.set(saved if saved is not None else float("nan"))
        self.saved_at = saved

    def watch_store(self, store: Any) -> None:
        """Read the store's size at each scrape (one count query)."""
        self.registry.register(_StoreSize(store))


class _StoreSize(Collector):
    def __init__(self, store: Any) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            info = self.store.info()
        except StoreError:
            return  # unavailable: /health says so; the scrape still answers
        yield GaugeMetricFamily("reelrank_store_ratings", "Ratings in the store.", info["ratings"])
        yield GaugeMetricFamily("reelrank_store_users", "Users in the store.", info["users"])


class RequestMetrics:
    """Pure ASGI middleware: counts each request and times it, by the route it matched."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._cache: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            template = getattr(scope.get("route"), "path", None) or _unrouted(scope["path"])
            count, timing = self._children(scope["method"], template, status[0])
            count.inc()
            timing.observe(time.perf_counter() - started)

    def _children(self, method: str, template: str, status: int) -> tuple[Any, Any]:
        """The counter and histogram of one (method, route, status), found once: the library's
        own lookup takes a lock and builds a key on every request."""
        key = (method, template, status)
        found = self._cache.get(key)
        if found is None:
            worker = self.metrics.worker
            found = (
                self.metrics.requests(method, template, str(status), worker),
                self.metrics.latency(method, template, worker),
            )
            self._cache[key] = found
        return found


def _unrouted(path: str) -> str:
    """The label of a request no route matched: the page's files, or anything else."""
    return "/static" if path.startswith("/static/") else "unmatched"


router = APIRouter(tags=["operator"])


@router.get("/metrics", response_class=Response)
async def get_metrics(request: Request, _: Operator) -> Response:
    """The service's counters in Prometheus' text format (send the operator's key)."""
    metrics: ServiceMetrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
