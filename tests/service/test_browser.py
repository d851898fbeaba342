"""End to end: the web page in headless Chromium (Playwright) against a real uvicorn server.

Search a title, like it, see recommendations appear, open similar movies, use the keyboard, then
look up an existing user; screenshots go to the test's temp dir. Skips only where Chromium is not
installed (CI's `.ci/run` installs Debian's `chromium`).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright

from reelrank.data.catalog.catalog import ListFilter
from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app

CHROMIUM = os.environ.get("REELRANK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not Path(CHROMIUM).is_file() and os.environ.get("CI"):
    # CI's `.ci/run` installs Chromium: there, its absence is a broken set-up, not a reason to skip.
    pytest.fail(f"Chromium not found at {CHROMIUM}; .ci/run must install it", pytrace=False)
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set REELRANK_CHROMIUM)",
)


@pytest.fixture(scope="module")
def base_url(two_stage: Recommender) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 (a free port) in a thread, stopped afterwards."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port meanwhile
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(two_stage), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            thread.join(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def page(base_url: str) -> Iterator[Page]:
    """A fresh browser page that records console errors and any request to another origin."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda message: console_problem(message.type, message.text, problems))
        page.on(
            "response",
            lambda response: (
                problems.append(f"{response.status} from {response.url}")
                if response.status >= 500
                else None
            ),
        )
        page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith((base_url, "data:"))
                else problems.append(f"external request: {request.url}")
            ),
        )
        yield page
        context.close()
        browser.close()
        assert not problems, "\n".join(problems)


def console_problem(kind: str, text: str, problems: list[str]) -> None:
    # The browser logs every 4xx answer as an error; those are expected (an unknown user), the
    # page shows the API's message for them. Anything else logged as an error is a problem.
    if kind == "error" and "the server responded with a status of 4" not in text:
        problems.append(f"console: {text}")


def name_of(model: Recommender, movie_id: str) -> str:
    """A title as a person would type it: no year, lower case."""
    return model.catalog.id_to_title[movie_id].rsplit(" (", 1)[0].lower()


def test_like_a_searched_movie_and_get_recommendations(
    page: Page, base_url: str, two_stage: Recommender, tmp_path: Path
) -> None:
    first = two_stage.catalog.id_to_title["11"]
    second = two_stage.catalog.id_to_title["12"]
    page.goto(base_url)
    expect(page.locator("#model-info")).to_contain_text("two-stage")
    expect(page.locator("#for-you-empty")).to_be_visible()

    # Search a title and like it: recommendations appear.
    page.get_by_label("Movie title").fill(name_of(two_stage, "11"))
    page.get_by_role("button", name=f"Like {first}").click()
    expect(page.locator("#liked")).to_contain_text(first)
    expect(page.locator("#liked-count")).to_have_text("(1)")
    recs = page.locator("#for-you > li")
    expect(recs).to_have_count(10)
    first_rec = two_stage.recommend_for_liked([first], 1)[0]
    assert first_rec.predicted_rating is not None and first_rec.year is not None
    # The predicted rating is shown, labelled; the retrieval score only with "Show scores".
    expect(recs.first.locator(".scores .predicted")).to_have_text(
        f"predicted rating {first_rec.predicted_rating:.1f} / 5"
    )
    expect(recs.first.locator(".retrieval-score")).to_be_hidden()
    page.get_by_label("Show scores").check()
    expect(recs.first.locator(".retrieval-score")).to_be_visible()
    expect(recs.first.locator(".retrieval-score")).to_contain_text("retrieval score")
    page.get_by_label("Show scores").uncheck()
    expect(recs.first.locator(".retrieval-score")).to_be_hidden()
    # Genres and year (part of the title, as MovieLens writes it) are shown.
    shown_genres = ", ".join(g for g in first_rec.genres if g != "unknown")
    expect(recs.first.locator(".genres")).to_have_text(shown_genres)
    expect(recs.first.locator(".title")).to_contain_text(f"({first_rec.year})")
    # One liked movie: it is why every recommendation is there.
    expect(recs.locator(".because")).to_have_text([f"because you liked {first}"] * 10)
    shown = page.locator("#for-you > li > .title").all_text_contents()
    assert len(shown) == 10 and first not in shown  # liked movies are left out

    # The order control re-asks the server: highest predicted rating first, then best match.
    relevance = [r.movie_title for r in two_stage.recommend_for_liked([first], 10)]
    by_rating = two_stage.recommend_for_liked([first], 10, order="predicted_rating")
    assert [r.movie_title for r in by_rating] != relevance
    page.locator("#for-you-order").select_option(label="highest predicted rating")
    expect(recs.locator(".title")).to_have_text([r.movie_title for r in by_rating])
    page.locator("#for-you-order").select_option(label="best match")
    expect(recs.locator(".title")).to_have_text(relevance)

    # "More" pages past the first 10; a genre filter narrows the list.
    page.get_by_role("button", name="More").click()
    expect(recs).to_have_count(20)
    expected = [r.movie_title for r in two_stage.recommend_for_liked([first], 20)]
    expect(recs.locator(".title")).to_have_text(expected)
    genre = next(g for r in two_stage.recommend_for_liked([first], 10) for g in r.genres)
    page.get_by_label("Genre").select_option(genre)
    narrowed = two_stage.recommend_for_liked([first], 10, only=ListFilter((genre,)))
    expect(recs.locator(".title")).to_have_text([r.movie_title for r in narrowed])
    page.get_by_label("Genre").select_option("")
    expect(recs).to_have_count(10)
    # So does a year range (Enter in a year box asks again).
    years = sorted(r.year for r in two_stage.recommend_for_liked([first], 10) if r.year)
    since = years[len(years) // 2]
    page.get_by_label("From").fill(str(since))
    page.get_by_label("From").press("Enter")
    later = two_stage.recommend_for_liked([first], 10, only=ListFilter(year_from=since))
    assert later and all(r.year is not None and r.year >= since for r in later)
    expect(page.locator("#for-you > li > .title")).to_have_text([r.movie_title for r in later])
    page.get_by_label("From").fill("")
    page.get_by_label("From").press("Enter")
    expect(page.locator("#for-you > li > .title")).to_have_text(relevance)

    # A recommendation's similar movies open inline.
    toggle = recs.first.get_by_role("button", name="Movies similar to")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(recs.first.locator(".similar > li.item")).to_have_count(5)
    similar_item = recs.first.locator(".similar > li.item").first
    expect(similar_item.locator(".scores")).not_to_contain_text("predicted rating")  # not a rating
    expect(similar_item.locator(".because")).to_have_count(0)  # it is because of this movie
    page.get_by_label("Show scores").check()
    expect(similar_item.locator(".retrieval-score")).to_be_visible()
    page.get_by_label("Show scores").uncheck()

    # Keyboard only: type, Enter searches, Enter again likes the top match.
    search = page.get_by_label("Movie title")
    search.fill(name_of(two_stage, "12"))
    search.press("Enter")
    # Wait for this search's own results: the previous list may mention the title too.
    expect(page.locator("#results")).to_have_attribute("data-query", name_of(two_stage, "12"))
    expect(page.locator("#results")).to_contain_text(second)
    search.press("Enter")
    expect(page.locator("#liked-count")).to_have_text("(2)")
    expect(page.locator("#liked")).to_contain_text(second)
    # Let the list refresh for the new liked set before clicking into it.
    expect(page.locator("#for-you-region")).to_have_attribute("aria-busy", "false")
    shown = page.locator("#for-you > li > .title").all_text_contents()
    assert len(shown) == 10 and second not in shown
    recs.nth(1).get_by_role("button", name="Movies similar to").click()
    expect(recs.nth(1).locator(".similar > li.item")).to_have_count(5)
    page.screenshot(path=str(tmp_path / "liked.png"), full_page=True)

    # Removing a liked movie updates the list; the liked list survives a reload.
    page.get_by_role("button", name=f"Remove {first}").click()
    expect(page.locator("#liked-count")).to_have_text("(1)")
    page.reload()
    expect(page.locator("#liked")).to_contain_text(second)
    expect(page.locator("#for-you > li")).to_have_count(10)

    assert (tmp_path / "liked.png").stat().st_size > 10_000


def test_existing_user_mode_shows_ratings_beside_recommendations(
    page: Page, base_url: str, two_stage: Recommender, tmp_path: Path
) -> None:
    page.goto(base_url)
    page.get_by_label("An existing user").check()
    expect(page.locator("#user-mode")).to_be_visible()
    expect(page.locator("#liked-mode")).to_be_hidden()
    user_id = page.get_by_label("User id")
    user_id.fill("1")
    user_id.press("Enter")
    rated = two_stage.rated_movies("1")
    expect(page.locator("#rated > li")).to_have_count(len(rated))
    expect(page.locator("#rated > li").first).to_contain_text(rated[0][1])
    best_match = two_stage.recommend("1", 10)
    expect(page.locator("#user-recs > li .title")).to_have_text([r.movie_title for r in best_match])
    # Each names the movie the user liked that brought it.
    expect(page.locator("#user-recs > li .because")).to_have_text(
        [f"because you liked {r.because_title}" for r in best_match]
    )
    expect(page.locator("#user-recs > li .predicted").first).to_contain_text("/ 5")

    # The order control: highest predicted rating first, from the same server.
    by_rating = two_stage.recommend("1", 10, order="predicted_rating")
    assert [r.movie_title for r in by_rating] != [r.movie_title for r in best_match]
    page.locator("#user-order").select_option("predicted_rating")
    expect(page.locator("#user-recs > li .title")).to_have_text([r.movie_title for r in by_rating])
    expect(page.locator("#user-recs > li .because")).to_have_text(
        [f"because you liked {r.because_title}" for r in by_rating]
    )
    page.locator("#user-order").select_option("relevance")
    expect(page.locator("#user-recs > li .title")).to_have_text([r.movie_title for r in best_match])

    # An unknown user gets the API's message, not a broken page.
    user_id.fill("nobody")
    user_id.press("Enter")
    expect(page.locator("#status")).to_contain_text("unknown user_id 'nobody'")
    # ... and the previous user's panels are gone, not left under the new user's error.
    expect(page.locator("#rated > li")).to_have_count(0)
    expect(page.locator("#user-recs > li")).to_have_count(0)
    expect(page.locator("#user-recs-heading")).to_have_text("Recommended for this user")
    page.screenshot(path=str(tmp_path / "user.png"), full_page=True)
    assert (tmp_path / "user.png").stat().st_size > 10_000


def test_the_api_docs_render_offline_and_head_is_answered(page: Page, base_url: str) -> None:
    """Swagger UI comes from the package (no external request: the fixture fails on any), and a
    real server answers HEAD as load balancers send it."""
    page.goto(f"{base_url}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "reelrank" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() >= 5  # the operations are listed
    for path in ("/", "/health"):
        request = urllib.request.Request(f"{base_url}{path}", method="HEAD")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and response.read() == b""
            assert response.headers["X-Content-Type-Options"] == "nosniff"
