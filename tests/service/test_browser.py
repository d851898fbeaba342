"""End to end: the web page in headless Chromium (Playwright) against a real uvicorn server.

Search a title, like it, see recommendations appear, open similar movies, use the keyboard, then
look up an existing user; screenshots go to the test's temp dir. Skips only where Chromium is not
installed (CI's `.ci/run` installs Debian's `chromium`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from reelrank.data.catalog.catalog import ListFilter
from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.store import RatingStore

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


@contextlib.contextmanager
def serving(app: object) -> Iterator[str]:
    """A real uvicorn server for `app` on 127.0.0.1 (a free port) in a thread, stopped after."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port meanwhile
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False)  # type: ignore[arg-type]
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


@pytest.fixture(scope="module")
def base_url(two_stage: Recommender) -> Iterator[str]:
    """The page of a server that keeps no ratings (a bare `create_app`)."""
    with serving(create_app(two_stage)) as url:
        yield url


@pytest.fixture(scope="module")
def served_store(
    two_stage: Recommender, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, RatingStore]]:
    """The page of a server with a rating store, as `reelrank serve` runs it."""
    location = tmp_path_factory.mktemp("store") / "store.sqlite3"
    with RatingStore(location) as store, serving(create_app(two_stage, store=store)) as url:
        yield url, store


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Chromium; every page opened in it records console errors, 5xx answers and any request
    to another origin, and the test fails on any."""
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        browser.problems = problems  # type: ignore[attr-defined]
        yield browser
        browser.close()
    assert not problems, "\n".join(problems)


def open_page(browser: Browser, **context_options: Any) -> Page:
    """A page in a new browser context (its own cookies and storage), watched as `browser`
    says."""
    problems: list[str] = browser.problems  # type: ignore[attr-defined]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
    page = context.new_page()
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
            if request.url.startswith(("http://127.0.0.1:", "data:"))
            else problems.append(f"external request: {request.url}")
        ),
    )
    return page


@pytest.fixture
def page(browser: Browser) -> Page:
    return open_page(browser)


def console_problem(kind: str, text: str, problems: list[str]) -> None:
    # The browser logs every 4xx answer as an error; those are expected (an unknown user), the
    # page shows the API's message for them. Anything else logged as an error is a problem.
    if kind == "error" and "the server responded with a status of 4" not in text:
        problems.append(f"console: {text}")


def name_of(model: Recommender, movie_id: str) -> str:
    """A title as a person would type it: no year, lower case."""
    return model.catalog.id_to_title[movie_id].rsplit(" (", 1)[0].lower()


def test_rate_a_searched_movie_and_get_recommendations(
    page: Page, base_url: str, two_stage: Recommender, tmp_path: Path
) -> None:
    first = two_stage.catalog.id_to_title["11"]
    second = two_stage.catalog.id_to_title["12"]
    page.goto(base_url)
    expect(page.locator("#model-info")).to_contain_text("two-stage")
    expect(page.locator("#for-you-empty")).to_be_visible()

    # A first visit offers popular movies to rate, not an empty screen.
    expect(page.locator("#to-rate > li")).to_have_count(12)
    expect(page.locator("#ratings-kept")).to_contain_text("stay in this browser")  # no store
    # Search a title and give it 5 stars: recommendations appear.
    page.get_by_label("Movie title").fill(name_of(two_stage, "11"))
    page.locator("#results").get_by_role("button", name=f"Rate {first} 5 stars").click()
    expect(page.locator("#my-ratings")).to_contain_text(first)
    expect(page.locator("#rated-count")).to_have_text("(1)")
    expect(
        page.locator("#results").get_by_role("button", name=f"Rate {first} 5 stars")
    ).to_have_attribute("aria-pressed", "true")
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
    # One liked (well-rated) movie: it is why every recommendation is there.
    expect(recs.locator(".because")).to_have_text([f"because you liked {first}"] * 10)
    shown = page.locator("#for-you > li > .title").all_text_contents()
    assert len(shown) == 10 and first not in shown  # rated movies are left out

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

    # Keyboard only: type, Enter searches, Enter again moves to the top match's stars.
    search = page.get_by_label("Movie title")
    search.fill(name_of(two_stage, "12"))
    search.press("Enter")
    # Wait for this search's own results: the previous list may mention the title too.
    expect(page.locator("#results")).to_have_attribute("data-query", name_of(two_stage, "12"))
    expect(page.locator("#results")).to_contain_text(second)
    search.press("Enter")
    expect(page.locator("#results button.star").first).to_be_focused()
    for _ in range(3):
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the fourth star
    expect(page.locator("#rated-count")).to_have_text("(2)")
    expect(page.locator("#my-ratings")).to_contain_text(second)
    mine = page.locator("#my-ratings").get_by_role("button", name=f"Rate {second} 4 stars")
    expect(mine).to_have_attribute("aria-pressed", "true")
    # Let the list refresh for the new ratings before clicking into it: the status is set in
    # the step that starts the refresh, so "not busy" after it is the new list's.
    expect(page.locator("#status")).to_have_text(f"You rated {second} 4 stars.")
    expect(page.locator("#for-you-region")).to_have_attribute("aria-busy", "false")
    expect(recs.locator(".title", has_text=second)).to_have_count(0)
    expect(recs).to_have_count(10)
    recs.nth(1).get_by_role("button", name="Movies similar to").click()
    expect(recs.nth(1).locator(".similar > li.item")).to_have_count(5)
    page.screenshot(path=str(tmp_path / "rated.png"), full_page=True)

    # Un-rating a movie updates the list; the ratings survive a reload (in this browser).
    page.locator("#my-ratings").get_by_role("button", name=f"Un-rate {first}").click()
    expect(page.locator("#rated-count")).to_have_text("(1)")
    page.reload()
    expect(page.locator("#my-ratings")).to_contain_text(second)
    expect(page.locator("#for-you > li")).to_have_count(10)

    assert (tmp_path / "rated.png").stat().st_size > 10_000


def test_existing_user_mode_shows_ratings_beside_recommendations(
    page: Page, base_url: str, two_stage: Recommender, tmp_path: Path
) -> None:
    page.goto(base_url)
    page.get_by_label("An existing user").check()
    expect(page.locator("#user-mode")).to_be_visible()
    expect(page.locator("#rating-mode")).to_be_hidden()
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


def test_ratings_kept_on_the_server_follow_the_profile(
    browser: Browser, served_store: tuple[str, RatingStore], two_stage: Recommender
) -> None:
    url, store = served_store
    page = open_page(browser)
    page.goto(url)
    expect(page.locator("#ratings-kept")).to_contain_text("Kept on this server")
    # A first visit offers popular movies of varied genres to rate.
    to_rate = page.locator("#to-rate > li")
    expect(to_rate).to_have_count(12)
    offered = [m.movie_title for m in two_stage.movies_to_rate(12)]
    expect(to_rate.locator(".title")).to_have_text(offered)
    loved, disliked = offered[0], offered[1]

    # Stars from the first-visit list: the list comes from the server's store.
    page.locator("#to-rate").get_by_role("button", name=f"Rate {loved} 5 stars").click()
    expect(page.locator("#rated-count")).to_have_text("(1)")
    recs = page.locator("#for-you > li")
    expect(recs).to_have_count(10)
    expect(recs.locator(".because")).to_have_text([f"because you liked {loved}"] * 10)
    me = page.evaluate("fetch('/me').then((r) => r.json())")["user_id"]
    assert [(r.movie_id, r.rating) for r in store.ratings_of(me)] == [
        (two_stage.catalog.movie_info(loved).movie_id, 5.0)
    ]
    # A low rating is kept, left out of the list, and not a like.
    page.locator("#to-rate").get_by_role("button", name=f"Rate {disliked} 1 star").click()
    expect(page.locator("#rated-count")).to_have_text("(2)")
    # The status is set once the rating is stored, in the same step that starts the list's
    # refresh (aria-busy): only then is "not busy" the new list's.
    expect(page.locator("#status")).to_have_text(f"You rated {disliked} 1 star.")
    expect(page.locator("#for-you-region")).to_have_attribute("aria-busy", "false")
    expect(recs.locator(".title", has_text=disliked)).to_have_count(0)
    expect(recs.locator(".because")).to_have_text([f"because you liked {loved}"] * 10)
    served = recs.locator(".title").all_text_contents()
    assert loved not in served and disliked not in served
    assert len(store.ratings_of(me)) == 2

    # A reload, and another browser holding the same profile, show the same ratings and list.
    page.reload()
    expect(page.locator("#rated-count")).to_have_text("(2)")
    expect(recs.locator(".title")).to_have_text(served)
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == ["reelrank_profile"] and cookies[0]["httpOnly"]
    other = open_page(browser)
    other.context.add_cookies(cookies)  # type: ignore[arg-type]
    other.goto(url)
    expect(other.locator("#rated-count")).to_have_text("(2)")
    expect(other.locator("#for-you > li .title")).to_have_text(served)
    # A browser without it is another visitor: nothing rated, and nothing of the first one's.
    stranger = open_page(browser)
    stranger.goto(url)
    expect(stranger.locator("#to-rate > li")).to_have_count(12)
    expect(stranger.locator("#rated-count")).to_have_text("(0)")
    expect(stranger.locator("#for-you > li")).to_have_count(0)

    # Un-rating the loved movie leaves nothing liked: the most popular movies, and it says so.
    page.locator("#my-ratings").get_by_role("button", name=f"Un-rate {loved}").click()
    expect(page.locator("#rated-count")).to_have_text("(1)")
    expect(page.locator("#for-you-note")).to_contain_text("most popular")
    expect(recs.locator(".because")).to_have_count(0)
    assert disliked not in recs.locator(".title").all_text_contents()
    assert [r.rating for r in store.ratings_of(me)] == [1.0]
    other.reload()
    expect(other.locator("#rated-count")).to_have_text("(1)")


def test_the_operators_page_needs_the_key_and_shows_the_service(
    browser: Browser, two_stage: Recommender, tmp_path: Path
) -> None:
    key = "operator-key-for-the-admin-page-01"
    movie = str(two_stage.catalog.table.movie_id[1])
    with (
        RatingStore(tmp_path / "store.sqlite3") as store,
        serving(create_app(two_stage, store=store, api_key=key)) as url,
    ):
        store.put("someone", movie, 4.0)
        page = open_page(browser)
        page.goto(f"{url}/admin")
        expect(page.locator("#dashboard")).to_be_hidden()
        page.get_by_label("Operator's API key").fill("not-the-key")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#status")).to_contain_text("operator's API key")
        expect(page.locator("#dashboard")).to_be_hidden()
        page.get_by_label("Operator's API key").fill(key)
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#dashboard")).to_be_visible()
        expect(page.locator('#model dd[data-fact="preset"]')).to_have_text("two-stage")
        expect(page.locator('#store dd[data-fact="ratings"]')).to_have_text("1")
        expect(page.locator("#requests")).to_contain_text("GET /admin/status")
        expect(page.locator("#requests")).to_contain_text("GET /static")  # the page's files
        expect(page.locator('#store dd[data-fact="last_rating"]')).to_contain_text("T")  # a date
        # The key stays in this tab only, never in the page's markup or in localStorage.
        assert page.evaluate("localStorage.length") == 0
        assert key not in page.content()
        # A server holding a model from memory has nothing to reload, and says so.
        page.get_by_role("button", name="Take up a new model now").click()
        expect(page.locator("#status")).to_contain_text("from memory")
        # A movie added here is served at once; taking it down hides it from everyone.
        page.get_by_label("Title").fill("Operator's Film")
        page.get_by_label("Year").fill("2026")
        page.get_by_label("Drama").check()
        page.get_by_role("button", name="Add the movie").click()
        expect(page.locator("#status")).to_contain_text("it is served now")
        row = page.locator("#newest tbody tr").first
        expect(row).to_contain_text("Operator's Film (2026)")
        movie_id = row.get_attribute("data-movie-id")
        assert httpx.get(f"{url}/movies/{movie_id}").status_code == 200
        row.get_by_role("button", name="Take down: Operator's Film (2026)").click()
        expect(row).to_contain_text("(taken down)")
        assert httpx.get(f"{url}/movies/{movie_id}").status_code == 404
        page.get_by_label("Title").fill("Operator's Film")
        page.get_by_label("Year").fill("2026")
        page.get_by_label("Drama").check()
        page.get_by_role("button", name="Add the movie").click()
        expect(page.locator("#status")).to_contain_text("already")  # taken down, not forgotten
        page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
