"""The operator's page (`/admin`) and what it shows (`GET /admin/status`, with the key): the
served model (version, preset, age, its evaluation, what it was trained on), the store (state,
size), the service's counters since start (requests by route and status, writes, lists
personal or popular, model swaps) and the newest movies added (the page adds and takes down
movies through `POST /movies` and `PATCH /movies/{movie_id}`). The page holds the key for the
browser tab only (sessionStorage) and sends it as `Authorization: Bearer`."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from reelrank.errors import StoreError
from reelrank.service.auth import Operator
from reelrank.service.pages import PAGE_HEADERS, STATIC

# The evaluation figures the page shows, when the model has them.
SHOWN_METRICS = (
    "root_mean_squared_error",
    "known_user/recall@10",
    "known_user/ndcg@10",
    "known_user/hit_rate@10",
    "known_user/coverage@10",
    "train_ratings",
    "test_ratings",
)

NEWEST_SHOWN = 10  # added movies the page lists

router = APIRouter(tags=["operator"])


@router.get("/admin", include_in_schema=False)
async def admin_page() -> FileResponse:
    return FileResponse(STATIC / "admin.html", headers=PAGE_HEADERS)


@router.get("/admin/status")
async def admin_status(request: Request, _: Operator) -> dict[str, Any]:
    """The served model, the store and the service's counters, for the operator's page."""
    state = request.app.state
    recommender = state.recommender
    saved = state.metrics.saved_at
    model = {
        "version": state.model_version,
        "preset": recommender.config.preset,
        "saved_at": saved,
        "age_seconds": round(time.time() - saved) if saved is not None else None,
        "users": len(recommender.catalog.users),
        "movies": len(recommender.catalog.movies),
        "evaluation": {
            k: recommender.metrics[k] for k in SHOWN_METRICS if k in recommender.metrics
        },
        "trained_on": {
            k: recommender.data_info[k]
            for k in ("dataset", "ratings", "store", "warm_start")
            if k in recommender.data_info
        },
    }
    store: dict[str, Any] = {"state": "none"}
    if state.store is not None:
        try:
            store = {"state": "ok", **await run_in_threadpool(state.store.info)}
        except StoreError as error:
            store = {"state": "unavailable", "error": str(error)}
    return {
        "model": model,
        "store": store,
        "service": _counters(state.metrics.registry),
        "newest_movies": _newest(recommender),
    }


def _newest(recommender: Any, limit: int = NEWEST_SHOWN) -> list[dict[str, Any]]:
    """The movies added since training, newest first, taken-down ones too (marked)."""
    catalog = recommender.catalog
    rows = range(catalog.movies.size - 1, catalog.trained - 1, -1)
    return [
        {**catalog.info(row).to_dict(), "hidden": catalog.is_hidden(row)}
        for row in list(rows)[:limit]
    ]


def _counters(registry: Any) -> dict[str, Any]:
    """The registry's counters summed over workers: requests by route and status, and the
    others by their one label."""
    requests: dict[str, dict[str, float]] = defaultdict(dict)
    totals: dict[str, Any] = {}
    for family in registry.collect():
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            labels = {k: v for k, v in sample.labels.items() if k != "worker"}
            if sample.name == "reelrank_requests_total":
                route = f"{labels['method']} {labels['route']}"
                requests[route][labels["status"]] = sample.value
            elif labels:
                key = sample.name.removeprefix("reelrank_").removesuffix("_total")
                totals.setdefault(key, {})[next(iter(labels.values()))] = sample.value
            else:
                totals[sample.name.removeprefix("reelrank_").removesuffix("_total")] = sample.value
    return {"requests": dict(requests), **totals}
