// reelrank web page: plain JS talking to the same server's JSON API. No external resources.
"use strict";

const K = 10; // recommendations shown
const SIMILAR_K = 5;
const SEARCH_LIMIT = 8;
const MAX_LIKED = 50; // the API's cap on a liked list
const STORE = "reelrank.liked";

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

// One recommended (or similar) movie: title, scores, and buttons to like it or show similar ones.
function recItem(rec, { kind = "rec", canLike = false } = {}) {
  const actions = el("div", { class: "actions" });
  const item = el("li", { class: "item" }, el("span", { class: "title" }, rec.movie_title),
    movieMeta(rec), becauseMeta(rec), scoreMeta(rec), actions);
  if (canLike) actions.append(likeButton(rec));
  if (kind !== "similar") {
    const panelId = `similar-${++similarCount}`;
    const toggle = el("button", {
      type: "button", class: "secondary", textContent: "Similar",
      "aria-expanded": "false", "aria-controls": panelId,
      "aria-label": `Movies similar to ${rec.movie_title}`,
    });
    const panel = el("ul", { class: "list similar", id: panelId, hidden: true,
      "aria-label": `Similar to ${rec.movie_title}` });
    toggle.addEventListener("click", () => toggleSimilar(rec, toggle, panel, canLike));
    actions.append(toggle);
    item.append(panel);
  }
  return item;
}

async function toggleSimilar(rec, toggle, panel, canLike) {
  const open = toggle.getAttribute("aria-expanded") === "true";
  toggle.setAttribute("aria-expanded", String(!open));
  panel.hidden = open;
  if (open || panel.childElementCount) return;
  panel.append(el("li", { class: "meta" }, "Loading similar movies…"));
  try {
    const data = await api(`/movies/${encodeURIComponent(rec.movie_id)}/similar?k=${SIMILAR_K}`);
    panel.replaceChildren(...data.similar.map((s) => recItem(s, { kind: "similar", canLike })));
  } catch (error) {
    panel.replaceChildren(el("li", { class: "meta" }, error.message));
  }
}

// -- mode 1: movies I liked ------------------------------------------------------------------

let liked = loadLiked(); // [{movie_id, movie_title}]
let results = []; // the search results on screen
let resultsQuery = null; // the query they answer
const searchRequest = latest();
const likedRequest = latest();

function loadLiked() {
  try {
    const stored = JSON.parse(localStorage.getItem(STORE) || "[]");
    return Array.isArray(stored) ? stored.filter((m) => m && m.movie_id && m.movie_title) : [];
  } catch {
    return [];
  }
}

function saveLiked() {
  try {
    localStorage.setItem(STORE, JSON.stringify(liked));
  } catch {
    // Private browsing can refuse storage; the list still works for this visit.
  }
}

const isLiked = (movieId) => liked.some((m) => m.movie_id === movieId);

function likeButton(movie) {
  const button = el("button", { type: "button", class: "like" });
  const render = () => {
    const on = isLiked(movie.movie_id);
    button.textContent = on ? "Liked ✓" : "Like";
    button.disabled = on;
    button.setAttribute("aria-label", on ? `${movie.movie_title} is liked` : `Like ${movie.movie_title}`);
  };
  render();
  button.addEventListener("click", () => addLiked(movie));
  button.refresh = render;
  return button;
}

function addLiked(movie) {
  if (isLiked(movie.movie_id)) return;
  if (liked.length >= MAX_LIKED) {
    showStatus(`You can like up to ${MAX_LIKED} movies; remove one first.`, true);
    return;
  }
  liked.push({ movie_id: movie.movie_id, movie_title: movie.movie_title });
  showStatus(`Added ${movie.movie_title} to your liked movies.`);
  likedChanged();
}

function removeLiked(movieId) {
  const movie = liked.find((m) => m.movie_id === movieId);
  liked = liked.filter((m) => m.movie_id !== movieId);
  if (movie) showStatus(`Removed ${movie.movie_title}.`);
  likedChanged();
}

function likedChanged() {
  saveLiked();
  renderLiked();
  document.querySelectorAll("button.like").forEach((b) => b.refresh && b.refresh());
  refreshForYou();
}

function renderLiked() {
  const list = $("liked");
  list.replaceChildren(...liked.map((movie) => {
    const remove = el("button", {
      type: "button", class: "secondary", textContent: "Remove",
      "aria-label": `Remove ${movie.movie_title}`,
    });
    remove.addEventListener("click", () => {
      const at = liked.findIndex((m) => m.movie_id === movie.movie_id);
      removeLiked(movie.movie_id);
      // Keep keyboard focus in the list (on the next Remove button) rather than losing it.
      const buttons = $("liked").querySelectorAll("button");
      (buttons[Math.min(at, buttons.length - 1)] || $("search")).focus();
    });
    return el("li", { class: "item" }, el("span", { class: "title" }, movie.movie_title),
      el("div", { class: "actions" }, remove));
  }));
  $("liked-count").textContent = `(${liked.length})`;
  $("liked-empty").hidden = liked.length > 0;
  $("clear-liked").hidden = liked.length === 0;
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
  empty.dataset.text ??= empty.textContent;  // the page's own hint, shown with nothing liked
  if (!liked.length) {
    list.replaceChildren();
    empty.textContent = empty.dataset.text;
    empty.hidden = false;
    $("for-you-more").hidden = true;
    return;
  }
  region.setAttribute("aria-busy", "true");
  try {
    const offset = more ? list.children.length : 0;
    const data = await likedRequest("/recommendations", {
      method: "POST",
      body: { liked: liked.map((m) => m.movie_id), k: K, offset, ...forYouFilter() },
    });
    const items = data.recommendations.map((r) => recItem(r, { canLike: true }));
    if (more) list.append(...items);
    else list.replaceChildren(...items);
    empty.hidden = list.children.length > 0;
    empty.textContent = "No movie matches this filter.";
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
    $("results").replaceChildren(...results.map((movie) =>
      el("li", { class: "item" }, el("span", { class: "title" }, movieLabel(movie)),
        movieMeta(movie), el("div", { class: "actions" }, likeButton(movie)))));
    if (!results.length) {
      $("results").append(el("li", { class: "meta" }, `No movie matches “${query}”.`));
    }
  } catch (error) {
    report(error);
  }
}

function setUpLikedMode() {
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
    // Enter searches; once results for this query are on screen, Enter likes the top match.
    if (resultsQuery !== query) await search(query);
    else if (results.length) addLiked(results.find((m) => !isLiked(m.movie_id)) || results[0]);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      const first = $("results").querySelector("button:not(:disabled)");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  $("results").addEventListener("keydown", (event) => {
    // Up/down arrows walk the result buttons; Escape returns to the search box.
    const buttons = [...$("results").querySelectorAll("button")];
    const at = buttons.indexOf(document.activeElement);
    if (event.key === "Escape") input.focus();
    else if (event.key === "ArrowDown" && at >= 0 && at < buttons.length - 1) buttons[at + 1].focus();
    else if (event.key === "ArrowUp") (at > 0 ? buttons[at - 1] : input).focus();
    else return;
    event.preventDefault();
  });
  $("clear-liked").addEventListener("click", () => {
    liked = [];
    showStatus("Removed all liked movies.");
    likedChanged();
    input.focus();
  });
  $("for-you-more").addEventListener("click", () => refreshForYou({ more: true }));
  $("for-you-filter").addEventListener("change", () => refreshForYou());
  $("for-you-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    refreshForYou();
  });
  renderLiked();
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
  $("liked-mode").hidden = mode !== "liked";
  $("user-mode").hidden = mode !== "user";
  showStatus("");
}

async function showModel() {
  try {
    const health = await api("/health");
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
        "recommend from liked movies: serve one trained with --preset two-stage, or pick " +
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
  setMode([...radios].find((r) => r.checked)?.value || "liked");
  setUpLikedMode();
  setUpUserMode();
  showModel();
});
