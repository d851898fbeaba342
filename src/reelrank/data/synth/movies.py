"""The movie catalogue of `reelrank.data.synth.writer`: `movies.csv` with titles and genres.

Titles are unique and GroupLens-style, `Words (Year)`, some `Words, The (Year)`, built from two
word lists; years lean recent. Genres come from each movie's hidden factors (each genre a
direction in factor space) at ml-25m's frequencies, `GENRE_COUNTS`, in GroupLens' order.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np

from reelrank.data.synth.world import ML25M_MOVIES

MOVIES_HEADER = ("movieId", "title", "genres")
NO_GENRES = "(no genres listed)"
# ml-25m's genres in the order GroupLens writes them inside a movie's list (IMAX last), with how
# many of its 62,423 movies carry each.
GENRE_COUNTS: tuple[tuple[str, int], ...] = (
    ("Action", 7348),
    ("Adventure", 4145),
    ("Animation", 2929),
    ("Children", 2935),
    ("Comedy", 16870),
    ("Crime", 5319),
    ("Documentary", 5605),
    ("Drama", 25606),
    ("Fantasy", 2731),
    ("Film-Noir", 353),
    ("Horror", 5989),
    ("Musical", 1054),
    ("Mystery", 2925),
    ("Romance", 7719),
    ("Sci-Fi", 3595),
    ("Thriller", 8654),
    ("War", 1874),
    ("Western", 1399),
    ("IMAX", 195),
)
_NO_GENRE_SHARE = 5062 / ML25M_MOVIES
_LAST_YEAR = 2019  # ml-25m's last ratings: no movie is newer

_FIRST_WORDS = (
    "Dark", "Silent", "Last", "Golden", "Broken", "Hidden", "Lost", "Wild", "Forgotten", "Final",
    "Crimson", "Midnight", "Electric", "Frozen", "Burning", "Distant", "Little", "Great", "Blue",
    "Iron", "Savage", "Gentle", "Eternal", "Fallen", "Rising", "Endless", "Haunted", "Lonely",
    "Bright", "Velvet", "Hollow", "Summer", "Winter", "Northern", "Southern", "Quiet", "Restless",
    "Sweet", "Bitter", "Paper", "Glass", "Stone", "Silver", "Scarlet", "Wicked", "Brave",
    "Strange", "Perfect", "Deadly", "Tender",
)  # fmt: skip
_NOUNS = (
    "City", "Night", "Road", "River", "Heart", "Kingdom", "Storm", "Garden", "Empire", "Dream",
    "Shadow", "Island", "Promise", "Legacy", "Mountain", "Ocean", "Station", "Horizon", "Secret",
    "Mirror", "Harvest", "Journey", "Frontier", "Stranger", "Witness", "Hunter", "Soldier",
    "Dancer", "Detective", "Machine", "Planet", "Circus", "Hotel", "Harbor", "Prophecy", "Thunder",
    "Fire", "Moon", "Star", "Wolf", "Raven", "Tiger", "Angel", "Ghost", "Code", "Game",
    "Bridge", "Tower", "Letter", "Song", "Voyage", "Paradise", "Desert", "Forest", "Valley",
    "Crown", "Sword", "Army", "Family", "Affair",
)  # fmt: skip


def _titles(rng: np.random.Generator, n_movies: int) -> list[str]:
    """Unique titles, GroupLens style: `Words (Year)`, some `Words, The (Year)` and a few with a
    quoted part. Each comes from a distinct code (short forms take the low codes), so no two are
    equal."""
    n_first, n_noun = len(_FIRST_WORDS), len(_NOUNS)
    pairs, of_pairs = n_first * n_noun, n_noun * n_noun
    capacity = pairs + of_pairs + pairs * n_noun
    codes = rng.choice(max(2 * n_movies, pairs + of_pairs), size=n_movies, replace=False)
    years = np.clip(_LAST_YEAR - np.floor(rng.exponential(18.0, n_movies)), 1902, _LAST_YEAR)
    style = rng.random(n_movies)
    titles = []
    for code, year, kind in zip(
        codes.tolist(), years.astype(int).tolist(), style.tolist(), strict=True
    ):
        sequel, rest = divmod(code, capacity)
        if rest < pairs:  # "Dark City"
            words = f"{_FIRST_WORDS[rest % n_first]} {_NOUNS[rest // n_first]}"
        elif rest < pairs + of_pairs:  # "City of the Night"
            rest -= pairs
            words = f"{_NOUNS[rest % n_noun]} of the {_NOUNS[rest // n_noun]}"
        else:  # "Dark City of the Night"
            rest -= pairs + of_pairs
            pair, of = divmod(rest, n_noun)
            words = f"{_FIRST_WORDS[pair % n_first]} {_NOUNS[pair // n_first]} of the {_NOUNS[of]}"
        if sequel:
            words += f" {sequel + 1}"
        if kind < 0.15:
            words += ", The"
        elif kind > 0.995:
            words = f'"{words}" Special'
        titles.append(f"{words} ({year})")
    return titles


def _genres(rng: np.random.Generator, traits: np.ndarray) -> list[str]:
    """Each movie's `|`-joined genres: a genre is a random direction in factor space, and the
    movies furthest along it (plus logistic noise) carry it, as many as ml-25m's share."""
    names = [name for name, _ in GENRE_COUNTS]
    share = np.array([count for _, count in GENRE_COUNTS]) / ML25M_MOVIES
    directions = rng.normal(size=(len(names), traits.shape[1]))
    score = traits.astype(np.float64) @ directions.T  # [M, G]
    score = 1.5 * (score - score.mean(axis=0)) / (score.std(axis=0) + 1e-12)
    noisy = score + rng.logistic(size=score.shape)
    cut = [np.quantile(noisy[:, g], 1.0 - share[g]) for g in range(len(names))]
    has = noisy > np.array(cut)
    # Movies left without a genre keep none at ml-25m's rate; the rest take their strongest.
    bare = np.flatnonzero(~has.any(axis=1))
    keep_bare = rng.random(bare.size) < _NO_GENRE_SHARE * traits.shape[0] / max(bare.size, 1)
    bare = bare[~keep_bare]
    has[bare, np.argmax(score[bare], axis=1)] = True
    return ["|".join(itertools.compress(names, row)) or NO_GENRES for row in has.tolist()]


def write_movies(path: Path, rng: np.random.Generator, traits: np.ndarray) -> None:
    """Write `movies.csv` for movies with these `[M, k]` factors: ids 1..M, titles, genres."""
    titles = _titles(rng, traits.shape[0])
    genres = _genres(rng, traits)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")  # quotes only fields that need it
        writer.writerow(MOVIES_HEADER)
        writer.writerows(zip(range(1, len(titles) + 1), titles, genres, strict=True))
