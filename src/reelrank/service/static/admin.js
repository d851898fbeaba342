// reelrank operator page: reads GET /admin/status with the operator's key (kept in
// sessionStorage: this tab only) every few seconds. DOM APIs only, nothing parsed as HTML.
"use strict";

const KEY = "reelrank.operator-key";
const EVERY_MS = 5000;
const $ = (id) => document.getElementById(id);
let timer = null;

function showStatus(message, isError = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error", isError);
}

async function call(path, method = "GET", body = undefined) {
  const key = sessionStorage.getItem(KEY) || "";
  const headers = { Authorization: `Bearer ${key}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return {};
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || `The server answered ${response.status}.`);
  return data;
}

function number(value) {
  if (typeof value !== "number") return String(value ?? "—");
  return Number.isInteger(value) ? value.toLocaleString() : value.toFixed(4);
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

function facts(id, entries) {
  $(id).replaceChildren(...entries.flatMap(([name, value]) => {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    const when = name.endsWith("_rating") && typeof value === "number";  // Unix times
    dd.textContent = when ? new Date(value * 1000).toISOString().replace(".000Z", "Z")
      : typeof value === "object" && value !== null ? JSON.stringify(value) : number(value);
    dd.dataset.fact = name;
    return [dt, dd];
  }));
}

function render(status) {
  const { model, store, service } = status;
  facts("model", [["version", model.version ?? "in memory"], ["preset", model.preset],
    ["age", age(model.age_seconds)], ["users", model.users], ["movies", model.movies]]);
  facts("evaluation", Object.entries(model.evaluation));
  facts("trained-on", Object.entries(model.trained_on));
  facts("store", Object.entries(store).filter(([name]) => name !== "schema_version"));
  facts("totals", Object.entries(service).filter(([name]) => name !== "requests"));
  const rows = Object.entries(service.requests).sort(([a], [b]) => a.localeCompare(b)).map(([route, byStatus]) => {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = route;
    const counts = document.createElement("td");
    counts.textContent = Object.entries(byStatus).map(([code, n]) => `${code}: ${number(n)}`).join(" · ");
    tr.append(name, counts);
    return tr;
  });
  $("requests").tBodies[0].replaceChildren(...rows);
  renderNewest(status.newest_movies || []);
  $("dashboard").hidden = false;
}

function renderNewest(movies) {
  const rows = movies.map((movie) => {
    const tr = document.createElement("tr");
    tr.dataset.movieId = movie.movie_id;
    const cells = [movie.movie_id, movie.movie_title + (movie.hidden ? " (taken down)" : ""), movie.genres.join(", ")]
      .map((text) => { const td = document.createElement("td"); td.textContent = text; return td; });
    const action = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "quiet";
    button.textContent = movie.hidden ? "Bring back" : "Take down";
    button.setAttribute("aria-label", `${button.textContent}: ${movie.movie_title}`);
    button.addEventListener("click", async () => {
      try {
        await call(`/movies/${encodeURIComponent(movie.movie_id)}`, "PATCH", { hidden: !movie.hidden });
        showStatus(`${movie.movie_title} ${movie.hidden ? "is back" : "was taken down"}.`);
        refresh(true);
      } catch (error) {
        showStatus(error.message, true);
      }
    });
    action.append(button);
    tr.append(...cells, action);
    return tr;
  });
  $("newest").tBodies[0].replaceChildren(...rows);
}

async function showGenres() {
  const health = await fetch("/health").then((r) => r.json()).catch(() => ({ genres: [] }));
  $("movie-genres").replaceChildren(...(health.genres || []).map((genre) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = genre;
    label.append(box, ` ${genre}`);
    return label;
  }));
}

async function addMovie(event) {
  event.preventDefault();
  const genres = [...$("movie-genres").querySelectorAll("input:checked")].map((box) => box.value);
  const year = $("movie-year").value ? Number($("movie-year").value) : null;
  try {
    const movie = await call("/movies", "POST", { title: $("movie-title").value.trim(), genres, year });
    showStatus(`Added ${movie.movie_title} as movie ${movie.movie_id}: it is served now.`);
    $("add-movie").reset();
    refresh(true);
  } catch (error) {
    showStatus(error.message, true);
  }
}

// `quiet`: after an action, whose own message stays on show.
async function refresh(quiet = false) {
  try {
    render(await call("/admin/status"));
    if (!quiet) showStatus(`Updated ${new Date().toLocaleTimeString()}.`);
  } catch (error) {
    $("dashboard").hidden = true;
    clearInterval(timer);
    showStatus(error.message, true);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  showGenres();
  $("add-movie").addEventListener("submit", addMovie);
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("api-key").value.trim());
    $("api-key").value = "";
    clearInterval(timer);
    refresh();
    timer = setInterval(refresh, EVERY_MS);
  });
  $("reload").addEventListener("click", async () => {
    try {
      const answer = await call("/admin/reload", "POST");
      showStatus(answer.reloaded ? `Now serving version ${answer.version} (was ${answer.previous}).`
        : `No new model: version ${answer.version} is what the artifact holds.`);
      refresh(true);
    } catch (error) {
      showStatus(error.message, true);
    }
  });
  if (sessionStorage.getItem(KEY)) {
    refresh();
    timer = setInterval(refresh, EVERY_MS);
  }
});
