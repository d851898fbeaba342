// reelrank web page: plain JS talking to the same server's JSON API. No external resources.
"use strict";

const K = 10; // recommendations shown
const SIMILAR_K = 5;
const SEARCH_LIMIT = 8;
const MAX_SENT = 50; // the API's cap on the ratings one request may carry
const TO_RATE = 12; // movies offered to a first visitor
const STORE = "reelrank.ratings";

const $ = (id) => document.getElementById(id);

// -- talking to the API ----------------------------------------------------------------------

class ApiError extends Error {}

async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("The server cannot be reached. Is `reelrank serve` still running?");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(data.detail || `The server answered ${response.status}.`);
  return data;
}

// Runs one request at a time per slot: a newer call cancels the older, so stale answers never
// overwrite fresh ones when the user types or clicks quickly.
function latest() {
  let controller = null;
  return async (path, options = {}) => {
    if (controller) controller.abort();
    controller = new AbortController();
    return api(path, { ...options, signal: controller.signal });
  };
}

function showStatus(message, isError = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

function report(error) {
  if (error.name !== "AbortError") showStatus(error.message, true);
}

// -- building list items (DOM APIs only, so titles are never parsed as HTML) --------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("aria-") || key === "role") node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function movieLabel(movie) {
  return movie.movie_title;
}

function movieMeta(movie) {
  const genres = (movie.genres || []).filter((g) => g !== "unknown").join(", ");
  return genres ? el("span", { class: "meta genres" }, genres) : null;
}

const present = (value) => value !== null && value !== undefined;

// Every number shown says what it is: the predicted rating (on the 1..5 scale) where the model
// has a ranking stage; the retrieval score (how strongly retrieval matched it, not a rating) is
// an internal number, shown only with "Show scores" on (the stylesheet hides .retrieval-score).
function scoreMeta(rec) {
  const parts = [];
  if (present(rec.predicted_rating)) {
    parts.push(el("span", { class: "predicted" }, "predicted rating ",
      el("span", { class: "rating" }, rec.predicted_rating.toFixed(1)), " / 5"));
  }
  if (present(rec.retrieval_score)) {
    parts.push(el("span", { class: "retrieval-score" }, `${parts.length ? " · " : ""}retrieval score ${rec.retrieval_score.toFixed(2)}`));
  }
  return el("span", { class: "meta scores" }, ...parts);
}

// Why the movie is on the list: the liked movie that did most to bring it.
function becauseMeta(rec) {
  return present(rec.because_title)
    ? el("span", { class: "meta because" }, `because you liked ${rec.because_title}`)
    : null;
}

let similarCount = 0;

// One recommended (or similar) movie: title, scores, stars to rate it, and similar movies.
function recItem(rec, { kind = "rec", canRate = false } = {}) {
  const actions = el("div", { class: "actions" });
  const item = el("li", { class: "item" }, el("span", { class: "title" }, rec.movie_title),
    movieMeta(rec), becauseMeta(rec), scoreMeta(rec), actions);
  if (canRate) actions.append(starsControl(rec));
  if (kind !== "similar") {
    const panelId = `similar-${++similarCount}`;
    const toggle = el("button", {
      type: "button", class: "secondary", textContent: "Similar",
      "aria-expanded": "false", "aria-controls": panelId,
      "aria-label": `Movies similar to ${rec.movie_title}`,
    });
    const panel = el("ul", { class: "list similar", id: panelId, hidden: true,
      "aria-label": `Similar to ${rec.movie_title}` });
    toggle.addEventListener("click", () => toggleSimilar(rec, toggle, panel, canRate));
    actions.append(toggle);
    item.append(panel);
  }
  return item;
}

async function toggleSimilar(rec, toggle, panel, canRate) {
  const open = toggle.getAttribute("aria-expanded") === "true";
  toggle.setAttribute("aria-expanded", String(!open));
  panel.hidden = open;
  if (open || panel.childElementCount) return;
  panel.append(el("li", { class: "meta" }, "Loading similar movies…"));
  try {
    const data = await api(`/movies/${encodeURIComponent(rec.movie_id)}/similar?k=${SIMILAR_K}`);
    panel.replaceChildren(...data.similar.map((s) => recItem(s, { kind: "similar", canRate })));
  } catch (error) {
    panel.replaceChildren(el("li", { class: "meta" }, error.message));
  }
}

// -- where the visitor's ratings live ----------------------------------------------------------

// With a rating store on the server (the usual case), the visitor's ratings are kept there under
// an anonymous profile (a signed, HttpOnly cookie the server sets): they survive a reload and
// reach the list on the next request. A server without a store keeps nothing: then they stay
// in this browser and the list is asked for from them.
const serverRatings = {
  me: null,
  path(movieId = "") {
    const base = `/users/${encodeURIComponent(this.me)}/ratings`;
    return movieId ? `${base}/${encodeURIComponent(movieId)}` : base;
  },
  async load() {
    this.me = (await api("/me", { method: "POST" })).user_id;
    const data = await api(`${this.path()}?limit=1000`);
    return data.ratings.filter((r) => r.source === "store")
      .map(({ movie_id, movie_title, rating }) => ({ movie_id, movie_title, rating }));
  },
  set(movie, rating) {
    return api(this.path(movie.movie_id), { method: "PUT", body: { rating } });
  },
  remove(movie) {
    return api(this.path(movie.movie_id), { method: "DELETE" });
  },
  recommend(request, filter, offset) {
    const params = new URLSearchParams({ k: String(K), offset: String(offset), order: filter.order });
    filter.genres.forEach((g) => params.append("genre", g));
    if (filter.year_from) params.set("year_from", String(filter.year_from));
    if (filter.year_to) params.set("year_to", String(filter.year_to));
    return request(`/users/${encodeURIComponent(this.me)}/recommendations?${params}`);
  },
};

const browserRatings = {
  async load() {
    try {
      const stored = JSON.parse(localStorage.getItem(STORE) || "[]");
      return Array.isArray(stored)
        ? stored.filter((m) => m && m.movie_id && m.movie_title && Number.isFinite(m.rating)) : [];
    } catch {
      return [];
    }
  },
  save() {
    try {
      localStorage.setItem(STORE, JSON.stringify([...rated.values()]));
    } catch {
      // Private browsing can refuse storage; the ratings still work for this visit.
    }
  },
  async set() { this.save(); },
  async remove() { this.save(); },
  recommend(request, filter, offset) {
    const ratings = [...rated.values()].slice(-MAX_SENT)
      .map((m) => ({ movie: Number(m.movie_id) || m.movie_title, rating: m.rating }));
    return request("/recommendations", { method: "POST", body: { ratings, k: K, offset, ...filter } });
  },
};

let ratingsHome = browserRatings; // serverRatings once /health says the server keeps ratings

// -- mode 1: movies I rated ------------------------------------------------------------------

const rated = new Map(); // movie_id -> {movie_id, movie_title, rating}, in the order rated
let results = []; // the search results on screen
let resultsQuery = null; // the query they answer
const searchRequest = latest();
const forYouRequest = latest();

const stars = (n) => `${n} star${n === 1 ? "" : "s"}`;

// Five star buttons (the pressed one is the visitor's rating) and an un-rate button.
function starsControl(movie) {
  const title = movie.movie_title;
  const group = el("div", { class: "stars", role: "group", "aria-label": `Your rating of ${title}` });
  const buttons = [1, 2, 3, 4, 5].map((n) => {
    const button = el("button", { type: "button", class: "star", textContent: "★",
      "aria-label": `Rate ${title} ${stars(n)}`, title: stars(n) });
    button.addEventListener("click", () => rate(movie, n));
    return button;
  });
  const unrate = el("button", { type: "button", class: "secondary unrate", textContent: "✕",
    "aria-label": `Un-rate ${title}`, title: "Remove your rating" });
  unrate.addEventListener("click", () => unrateMovie(movie));
  group.append(...buttons, unrate);
  group.refresh = () => {
    const mine = rated.get(movie.movie_id)?.rating ?? 0;
    buttons.forEach((button, i) => {
      button.classList.toggle("on", i < mine);
      button.setAttribute("aria-pressed", String(i + 1 === mine));
    });
    unrate.hidden = !mine;
  };
  group.refresh();
  return group;
}

async function rate(movie, rating) {
  const before = rated.get(movie.movie_id);
  if (before?.rating === rating) return;
  rated.delete(movie.movie_id); // re-rated: now the latest
  rated.set(movie.movie_id, { movie_id: movie.movie_id, movie_title: movie.movie_title, rating });
  ratingsChanged();
  try {
    await ratingsHome.set(movie, rating);
    showStatus(`You rated ${movie.movie_title} ${stars(rating)}.`);
    refreshForYou();
  } catch (error) {
    // Not kept: show the rating as it was.
    if (before) rated.set(movie.movie_id, before);
    else rated.delete(movie.movie_id);
    ratingsChanged();
    report(error);
  }
}

async function unrateMovie(movie) {
  const before = rated.get(movie.movie_id);
  if (!before) return;
  rated.delete(movie.movie_id);
  ratingsChanged();
  try {
    await ratingsHome.remove(movie);
    showStatus(`Removed your rating of ${movie.movie_title}.`);
    refreshForYou();
  } catch (error) {
    rated.set(movie.movie_id, before);
    ratingsChanged();
    report(error);
  }
}

function ratingsChanged() {
  renderRated();
  document.querySelectorAll(".stars").forEach((group) => group.refresh && group.refresh());
}

function renderRated() {
  const list = $("my-ratings");
  const newestFirst = [...rated.values()].reverse();
  list.replaceChildren(...newestFirst.map((movie) =>
    el("li", { class: "item" }, el("span", { class: "title" }, movie.movie_title),
      el("div", { class: "actions" }, starsControl(movie)))));
  $("rated-count").textContent = `(${rated.size})`;
  $("rated-empty").hidden = rated.size > 0;
  $("clear-ratings").hidden = rated.size === 0;
}

function ratableItem(movie) {
  return el("li", { class: "item" }, el("span", { class: "title" }, movieLabel(movie)),
    movieMeta(movie), el("div", { class: "actions" }, starsControl(movie)));
}

// A first visit is not an empty screen: popular movies of varied genres to rate.
async function showMoviesToRate() {
  try {
    const data = await api(`/movies/to-rate?k=${TO_RATE}`);
    $("to-rate").replaceChildren(...data.movies.map(ratableItem));
  } catch (error) {
    report(error);
  }
}

// The list's filter as the API takes it (empty fields are left out).
function forYouFilter() {
  const genre = $("genre-filter").value;
  const from = $("year-from").value;
  const to = $("year-to").value;
  return {
    order: $("for-you-order").value,
    genres: genre ? [genre] : [],
    ...(from ? { year_from: Number(from) } : {}),
    ...(to ? { year_to: Number(to) } : {}),
  };
}

// Load the first page of "Recommended for you", or with `more` the next page after those shown.
async function refreshForYou({ more = false } = {}) {
  const list = $("for-you");
  const region = $("for-you-region");
  const empty = $("for-you-empty");
  empty.dataset.text ??= empty.textContent;  // the page's own hint, shown with nothing rated
  if (!rated.size) {
    list.replaceChildren();
    empty.textContent = empty.dataset.text;
    empty.hidden = false;
    $("for-you-more").hidden = true;
    $("for-you-note").hidden = true;
    return;
  }
  region.setAttribute("aria-busy", "true");
  try {
    const offset = more ? list.children.length : 0;
    const data = await ratingsHome.recommend(forYouRequest, forYouFilter(), offset);
    const items = data.recommendations.map((r) => recItem(r, { canRate: true }));
    if (more) list.append(...items);
    else list.replaceChildren(...items);
    empty.hidden = list.children.length > 0;
    empty.textContent = "No movie matches this filter.";
    const note = data.note || (data.liked && !data.liked.length
      ? "nothing rated 4 stars or more yet: these are the most popular movies" : "");
    $("for-you-note").textContent = note ? `${note[0].toUpperCase()}${note.slice(1)}.` : "";
    $("for-you-note").hidden = !note;
    // A full page may have more behind it; a short one is the end of the list.
    $("for-you-more").hidden = data.recommendations.length < K;
  } catch (error) {
    report(error);
  } finally {
    region.setAttribute("aria-busy", "false");
  }
}

async function search(query) {
  query = query.trim();
  $("to-rate-section").hidden = Boolean(query);
  if (!query) {
    results = [];
    resultsQuery = query;
    $("results").replaceChildren();
    return;
  }
  try {
    const params = new URLSearchParams({ query, limit: String(SEARCH_LIMIT) });
    const data = await searchRequest(`/movies?${params}`);
    results = data.movies;
    resultsQuery = query;
    $("results").dataset.query = query; // which search the list shows (read by tests)
    $("results").replaceChildren(...results.map(ratableItem));
    if (!results.length) {
      $("results").append(el("li", { class: "meta" }, `No movie matches “${query}”.`));
    }
  } catch (error) {
    report(error);
  }
}

async function setUpRatingMode(keepsRatings) {
  const input = $("search");
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => search(input.value), 180);
  });
  $("search-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearTimeout(timer);
    const query = input.value.trim();
    if (!query) return;
    // Enter searches; once results for this query are on screen, Enter moves to the top
    // match's stars.
    if (resultsQuery !== query) await search(query);
    else $("results").querySelector("button.star")?.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      const first = $("results").querySelector("button:not([hidden])");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  $("results").addEventListener("keydown", (event) => {
    // Up/down arrows walk the results' first stars; Escape returns to the search box.
    const firsts = [...$("results").querySelectorAll(".stars")].map((g) => g.querySelector("button"));
    const at = firsts.findIndex((b) => b.closest(".item").contains(document.activeElement));
    if (event.key === "Escape") input.focus();
    else if (event.key === "ArrowDown" && at >= 0 && at < firsts.length - 1) firsts[at + 1].focus();
    else if (event.key === "ArrowUp") (at > 0 ? firsts[at - 1] : input).focus();
    else return;
    event.preventDefault();
  });
  $("clear-ratings").addEventListener("click", async () => {
    for (const movie of [...rated.values()]) await unrateMovie(movie);
    showStatus("Removed all your ratings.");
    input.focus();
  });
  $("for-you-more").addEventListener("click", () => refreshForYou({ more: true }));
  $("for-you-filter").addEventListener("change", () => refreshForYou());
  $("for-you-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    refreshForYou();
  });
  ratingsHome = keepsRatings ? serverRatings : browserRatings;
  $("ratings-kept").textContent = keepsRatings
    ? "Kept on this server for your browser's anonymous profile."
    : "This server keeps no ratings: they stay in this browser.";
  try {
    for (const movie of await ratingsHome.load()) rated.set(movie.movie_id, movie);
  } catch (error) {
    report(error);
  }
  renderRated();
  showMoviesToRate();
  refreshForYou();
}

// -- mode 2: an existing user ----------------------------------------------------------------

const userRequest = latest();

async function showUser(userId) {
  userId = userId.trim();
  if (!userId) return;
  const params = new URLSearchParams({
    k: String(K), include_seen: String($("include-seen").checked), order: $("user-order").value,
  });
  const region = $("user-recs-region");
  region.setAttribute("aria-busy", "true");
  try {
    const id = encodeURIComponent(userId);
    const [ratings, recs] = await Promise.all([
      api(`/users/${id}/ratings?limit=100`),
      userRequest(`/users/${id}/recommendations?${params}`),
    ]);
    $("rated-heading").textContent =
      `Rated by user ${ratings.user_id} (${ratings.total}${ratings.total > ratings.ratings.length ? `, best ${ratings.ratings.length} shown` : ""})`;
    $("rated").replaceChildren(...ratings.ratings.map((r) =>
      el("li", { class: "item" }, el("span", { class: "title" }, r.movie_title),
        el("span", { class: "meta" }, el("span", { class: "rating" }, `${r.rating} ★`), " their rating"))));
    $("user-recs-heading").textContent = `Recommended for user ${recs.user_id}`;
    $("user-recs-note").textContent = recs.note ? `${recs.note[0].toUpperCase()}${recs.note.slice(1)}.` : "";
    $("user-recs-note").hidden = !recs.note;
    $("user-recs").replaceChildren(...recs.recommendations.map((r) => recItem(r)));
    $("user-recs-empty").hidden = recs.recommendations.length > 0;
    showStatus(`Showing user ${recs.user_id}.`);
  } catch (error) {
    clearUser();  // never leave the previous user's panels under a new user's error
    report(error);
  } finally {
    region.setAttribute("aria-busy", "false");
  }
}

function clearUser() {
  $("rated-heading").textContent = "Rated movies";
  $("rated").replaceChildren();
  $("user-recs-heading").textContent = "Recommended for this user";
  $("user-recs").replaceChildren();
  $("user-recs-note").hidden = true;
  $("user-recs-empty").hidden = false;
}

async function setUpUserMode() {
  $("user-form").addEventListener("submit", (event) => {
    event.preventDefault();
    showUser($("user-id").value);
  });
  $("include-seen").addEventListener("change", () => showUser($("user-id").value));
  $("user-order").addEventListener("change", () => showUser($("user-id").value));
  try {
    const data = await api("/users?limit=1000");
    $("user-ids").replaceChildren(...data.user_ids.map((id) => el("option", { value: id })));
  } catch (error) {
    report(error);
  }
}

// -- page --------------------------------------------------------------------------------------

function setMode(mode) {
  $("rating-mode").hidden = mode !== "rated";
  $("user-mode").hidden = mode !== "user";
  showStatus("");
}

async function showModel() {
  try {
    const health = await api("/health");
    setUpRatingMode(health.store);
    const kind = health.two_stage ? "two-stage model (retrieval + ranking)"
      : health.retrieval ? "retrieval model" : "ranking model";
    if (health.retrieval && !health.two_stage) {
      // No ranking model: nothing predicts a rating to order by.
      document.querySelectorAll('select.order option[value="predicted_rating"]')
        .forEach((option) => { option.disabled = true; });
    }
    if (!health.retrieval) {
      // Liked-movie recommendations and similar movies need a retrieval model.
      $("for-you-empty").dataset.text = "This model has no retrieval stage, so it cannot " +
        "recommend from your ratings: serve one trained with --preset two-stage, or pick " +
        "“An existing user” above.";
      $("for-you-empty").textContent = $("for-you-empty").dataset.text;
    }
    $("model-info").textContent =
      `${kind} · ${health.users.toLocaleString()} users · ${health.movies.toLocaleString()} movies`;
    $("genre-filter").append(...health.genres.map((g) => el("option", { value: g }, g)));
  } catch (error) {
    $("model-info").textContent = error.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const showScores = $("show-scores");
  const toggleScores = () => document.body.classList.toggle("show-scores", showScores.checked);
  showScores.addEventListener("change", toggleScores);
  toggleScores(); // a reload can restore the box checked
  const radios = document.querySelectorAll('input[name="mode"]');
  radios.forEach((radio) => radio.addEventListener("change", () => setMode(radio.value)));
  // A reload can restore the other radio button; show the mode that is checked.
  setMode([...radios].find((r) => r.checked)?.value || "rated");
  setUpUserMode();
  showModel();
});
