"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis).

For every operation, valid and invalid requests generated from the schema must never get a 5xx,
and every response must match what the schema documents (status code, content type, body).
Examples per operation are bounded so the whole file runs in seconds.

Hypothesis drives schemathesis' strategies directly rather than through schemathesis' pytest
plugin, whose lazy-fixture support does not work with pytest 9.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.store import RatingStore

EXAMPLES = 30  # per operation and generation mode

# The operations, read from the app's schema (building the app loads nothing until it starts).
_PATHS = create_app(artifact=Path("unused")).openapi()["paths"]
OPERATIONS = [(method.upper(), path) for path, item in _PATHS.items() for method in item]
# Negative examples (invalid on purpose) exist only for operations that take some input.
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode}")
    for method, path in OPERATIONS
    for mode in ("positive", "negative")
    if mode == "positive" or _PATHS[path][method.lower()].keys() & {"parameters", "requestBody"}
]


KEY = "fuzzing-operator-key-0123456789"


@pytest.fixture(scope="module")
def api_schema(two_stage: Recommender, tmp_path_factory: pytest.TempPathFactory) -> Any:
    # An invalid request must be refused with one of the API's documented rejections; 413 (body
    # too large) is one, though schemathesis does not count it by default. The write API is
    # fuzzed as the operator, against a real store.
    rejections = {"expected-statuses": ["400", "404", "409", "413", "422"]}
    config = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": rejections}})
    store = RatingStore(tmp_path_factory.mktemp("fuzz") / "store.sqlite3")
    app = create_app(two_stage, store=store, api_key=KEY)
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


def test_every_operation_is_fuzzed() -> None:
    assert len(OPERATIONS) == 22


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_api_never_fails_and_matches_its_schema(
    api_schema: Any, method: str, path: str, mode: str
) -> None:
    operation = api_schema[path][method]
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same examples on every run: CI failures reproduce locally
        database=None,
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, excluded_checks=skip)

    # A rating outside the data's scale (1..5 here, but the schema is the same for any data) is
    # refused with 422 though the schema cannot say so: the write API's valid-looking requests
    # may be refused; everything else, 5xx included, is still checked.
    writes = path in ("/users/{user_id}/ratings/{movie_id}", "/ratings") and method != "DELETE"
    skip = [schemathesis.checks.positive_data_acceptance] if writes else []

    check()
