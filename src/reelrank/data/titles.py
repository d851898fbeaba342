"""Forgiving movie-title matching: what a person types → the catalogue's exact title.

MovieLens writes "Usual Suspects, The (1995)"; people type "the usual suspects". A match ignores
case, punctuation, the article's position and, when the query gives none, the year. A query that
fits several films ("Hamlet") is ambiguous and says which; one that fits none suggests close titles.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from reelrank.types import ReelrankError, UnknownIdError

# Articles MovieLens moves to the end of a title ("Usual Suspects, The"), in several languages.
_ARTICLES = ("the", "a", "an", "les", "la", "le", "l'", "il", "el", "das", "der", "die", "lo")
_YEAR = re.compile(r"\s*\(?(\d{4})\)?\s*$")
_PARENTHESES = re.compile(r"\(([^()]*)\)")
_TRAILING_ARTICLE = re.compile(r",\s*(" + "|".join(re.escape(a) for a in _ARTICLES) + r")$")
_NON_WORD = re.compile(r"[^\w]+")


class AmbiguousTitleError(ReelrankError):
    """A title query fits several movies; `candidates` lists them."""

    def __init__(self, query: str, candidates: Sequence[str]) -> None:
        self.candidates = list(candidates)
        shown = "; ".join(repr(c) for c in self.candidates[:5])
        super().__init__(
            f"{query!r} fits {len(self.candidates)} movies: {shown}. Give the year too."
        )


def split_year(title: str) -> tuple[str, int | None]:
    """("Toy Story", 1995) from "Toy Story (1995)"; the year is None when absent."""
    match = _YEAR.search(title)
    if match is None or match.start() == 0:
        return title.strip(), None
    return title[: match.start()].strip(), int(match.group(1))


def normalize(name: str) -> str:
    """A comparison key: lower case, accents and punctuation dropped, a trailing article moved
    to the front ("Usual Suspects, The" → "the usual suspects")."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().strip()
    article = _TRAILING_ARTICLE.search(text)
    if article is not None:
        text = f"{article.group(1)} {text[: article.start()]}"
    return " ".join(_NON_WORD.sub(" ", text).split())


def aliases(name: str) -> set[str]:
    """Every key a title answers to: the whole name, the name without its parenthesised
    alternates ("Seven (Se7en)" → "seven", "se7en"), and each of those without a leading article."""
    names = {name, _PARENTHESES.sub(" ", name), *_PARENTHESES.findall(name)}
    keys = {normalize(n) for n in names}
    keys |= {_without_article(k) for k in keys}
    return {k for k in keys if k}


@dataclass(frozen=True)
class TitleEntry:
    """A catalogue title with its index, its match keys and its year."""

    index: int
    title: str
    keys: frozenset[str]
    year: int | None


class TitleMatcher:
    """Matches typed titles against a catalogue of exact titles (`titles[i]` has index `i + 1`,
    as in the title `Vocabulary`)."""

    def __init__(self, titles: Sequence[str]) -> None:
        self._entries: list[TitleEntry] = []
        self._exact: dict[str, int] = {}
        self._by_key: dict[str, list[TitleEntry]] = defaultdict(list)
        for i, title in enumerate(titles, start=1):
            name, year = split_year(title)
            entry = TitleEntry(i, title, frozenset(aliases(name)), year)
            self._entries.append(entry)
            self._exact[title] = i
            for key in entry.keys:
                self._by_key[key].append(entry)
        self._keys = list(self._by_key)

    def match(self, query: str) -> int:
        """The index of the one title `query` means; raises `UnknownIdError` with suggestions, or
        `AmbiguousTitleError` when several titles fit equally well."""
        query = query.strip()
        if not query:
            raise ReelrankError("an empty movie title matches nothing: type part of a title")
        exact = self._exact.get(query)
        if exact is not None:
            return exact
        name, year = split_year(query)
        key = normalize(name)
        found = self._by_key.get(key) or self._by_key.get(_without_article(key), [])
        if year is not None:
            found = [e for e in found if e.year == year]
        if len(found) == 1:
            return found[0].index
        if len(found) > 1:
            raise AmbiguousTitleError(query, [e.title for e in found])
        # Suggest near titles, ignoring the year if nothing of that year comes close.
        close = [e.title for e in self.search(query, limit=3) or self.search(name, limit=3)]
        hint = f" Did you mean: {'; '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownIdError(f"unknown movie title {query!r}: no movie matches it.{hint}")

    def search(self, query: str, limit: int = 10) -> list[TitleEntry]:
        """Titles for a search box, best first: exact name, then names starting with the query,
        then names containing it, then close spellings."""
        name, year = split_year(query)
        key = normalize(name)
        if not key or limit <= 0:
            return []
        tiers: list[list[TitleEntry]] = [[], [], []]
        for entry in self._entries:
            if year is not None and entry.year != year:
                continue
            if key in entry.keys or _without_article(key) in entry.keys:
                tiers[0].append(entry)
            elif any(k.startswith(key) for k in entry.keys):
                tiers[1].append(entry)
            elif any(key in k for k in entry.keys):
                tiers[2].append(entry)
        found = [e for tier in tiers for e in sorted(tier, key=lambda e: (len(e.title), e.title))]
        if len(found) < limit:
            seen = {e.index for e in found}
            for close in difflib.get_close_matches(key, self._keys, n=limit, cutoff=0.6):
                for entry in self._by_key[close]:
                    if entry.index not in seen and (year is None or entry.year == year):
                        seen.add(entry.index)
                        found.append(entry)
        return found[:limit]


def _without_article(key: str) -> str:
    first, _, rest = key.partition(" ")
    return rest if first in _ARTICLES else key
