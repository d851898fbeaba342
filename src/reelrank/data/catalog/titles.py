"""Forgiving movie-title matching: what a person types → the catalogue's exact title.

MovieLens writes "Usual Suspects, The (1995)"; people type "the usual suspects". A match ignores
case, accents, punctuation, the article's position and, when the query gives none, the year, in
any script ("Крестный отец", "千と千尋の神隠し"). A query that fits several films ("Hamlet") is
ambiguous and says which; one that fits none suggests close titles, found with rapidfuzz.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from reelrank.errors import ReelrankError, UnknownIdError

# Articles MovieLens moves to the end of a title ("Usual Suspects, The"), in several languages.
_ARTICLES = ("the", "a", "an", "les", "la", "le", "l'", "il", "el", "das", "der", "die", "lo")
# ASCII digits only: `\d` would also take other scripts' digits, which int() reads differently.
_RELEASE_YEAR = re.compile(r"\s*\(([0-9]{4})\)$")
_BARE_YEAR = re.compile(r"\s+([0-9]{4})$")
_PARENTHESES = re.compile(r"\(([^()]*)\)")
_TRAILING_ARTICLE = re.compile(r",\s*(" + "|".join(re.escape(a) for a in _ARTICLES) + r")$")
_NON_WORD = re.compile(r"[^\w]+")
# Close spellings: rapidfuzz's `fuzz.ratio` (Indel similarity, 0..100) from 60 up, as difflib's
# ratio was from 0.6.
_FUZZY_CUTOFF = 60.0


class AmbiguousTitleError(ReelrankError):
    """A title query fits several movies; `candidates` lists them."""

    def __init__(self, query: str, candidates: Sequence[str]) -> None:
        self.candidates = list(candidates)
        shown = "; ".join(repr(c) for c in self.candidates[:5])
        super().__init__(
            f"{query!r} fits {len(self.candidates)} movies: {shown}. Give the year too."
        )


def split_release_year(title: str) -> tuple[str, int | None]:
    """("Toy Story", 1995) from the catalogue title "Toy Story (1995)".

    The one parser of a MovieLens title's release year: four digits in parentheses at the very
    end, after a name ("1900 (1976)" → ("1900", 1976), "Seven (Se7en) (1995)" → ("Seven (Se7en)",
    1995)). Anything else has no year: "Toy Story 1995", "(1995)" alone and "unknown" come back
    whole (stripped) with None.
    """
    text = title.strip()
    match = _RELEASE_YEAR.search(text)
    if match is None or match.start() == 0:
        return text, None
    return text[: match.start()], int(match.group(1))


def release_year(title: str) -> int | None:
    """The release year of a catalogue title ("Toy Story (1995)" → 1995), or None."""
    return split_release_year(title)[1]


def split_query_year(query: str) -> tuple[str, int | None]:
    """A typed query's name and year: as `split_release_year`, and a query may also end in a
    bare year ("toy story 1995" → ("toy story", 1995)). A number alone ("1984") is a name."""
    name, year = split_release_year(query)
    if year is None and (match := _BARE_YEAR.search(name)) is not None:
        return name[: match.start()], int(match.group(1))
    return name, year


def _query_readings(query: str) -> list[tuple[str, int | None]]:
    """The ways to read a query, most specific first: "blade runner 2049" may name a year."""
    name, year = split_query_year(query)
    whole = query.strip()
    if year is not None and not whole.endswith(")"):  # the "year" may be part of the title
        return [(name, year), (whole, None)]
    return [(name, year)]


def _is_word_char(c: str) -> bool:
    # Marks that survive `normalize`'s stripping (Indic vowel signs) belong to their word.
    return c.isalnum() or c == "_" or unicodedata.category(c).startswith("M")


def normalize(name: str) -> str:
    """A comparison key in any script: case folded, accents dropped, punctuation made spaces, a
    trailing article moved to the front ("Usual Suspects, The" → "the usual suspects").

    Accents are the combining marks of the NFKD form ("Amélie" → "amelie", and so "й" → "и"
    too); letters of every script stay ("Ζορμπάς" → "ζορμπασ", "千と千尋の神隠し" as it is).
    """
    if name.isascii():  # the common case, without the per-character work below
        text = name.lower().strip()
    else:
        decomposed = unicodedata.normalize("NFKD", name)
        text = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()
    article = _TRAILING_ARTICLE.search(text)
    if article is not None:
        text = f"{article.group(1)} {text[: article.start()]}"
    if text.isascii():
        return " ".join(_NON_WORD.sub(" ", text).split())
    words = "".join(c if _is_word_char(c) else " " for c in text).split()
    # Recompose what NFKD split and no mark removal touched (Hangul syllables).
    return unicodedata.normalize("NFC", " ".join(words))


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
        self._exact: dict[str, int] = {}
        by_key: dict[str, list[TitleEntry]] = defaultdict(list)
        for i, title in enumerate(titles, start=1):
            name, year = split_release_year(title)
            entry = TitleEntry(i, title, frozenset(aliases(name)), year)
            self._exact[title] = i
            for key in entry.keys:
                by_key[key].append(entry)
        self._by_key = dict(by_key)
        self._keys = list(by_key)
        # Every key on one line of one string, so prefix and substring search is str.find (C).
        self._haystack = "\n".join(self._keys)
        self._starts: list[int] = []
        offset = 0
        for key in self._keys:
            self._starts.append(offset)
            offset += len(key) + 1

    def match(self, query: str) -> int:
        """The index of the one title `query` means; raises `UnknownIdError` with suggestions, or
        `AmbiguousTitleError` when several titles fit equally well."""
        query = query.strip()
        if not query:
            raise ReelrankError("an empty movie title matches nothing: type part of a title")
        exact = self._exact.get(query)
        if exact is not None:
            return exact
        found: list[TitleEntry] = []
        for name, year in _query_readings(query):
            key = normalize(name)
            found = self._by_key.get(key) or self._by_key.get(_without_article(key), [])
            if year is not None:
                found = [e for e in found if e.year == year]
            if found:
                break
        if len(found) == 1:
            return found[0].index
        if len(found) > 1:
            raise AmbiguousTitleError(query, [e.title for e in found])
        # Suggest near titles, ignoring the year if nothing of that year comes close.
        name = split_query_year(query)[0]
        close = [e.title for e in self.search(query, limit=3) or self.search(name, limit=3)]
        hint = f" Did you mean: {'; '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownIdError(f"unknown movie title {query!r}: no movie matches it.{hint}")

    def search(self, query: str, limit: int = 10) -> list[TitleEntry]:
        """Titles for a search box, best first: exact name, then names starting with the query,
        then names containing it, then close spellings."""
        found: list[TitleEntry] = []
        for name, year in _query_readings(query):
            found = self._search(normalize(name), year, limit)
            if found:
                break
        return found

    def _search(self, key: str, year: int | None, limit: int) -> list[TitleEntry]:
        if not key or limit <= 0:
            return []
        tier_of: dict[int, tuple[int, TitleEntry]] = {}

        def add(entries: list[TitleEntry], tier: int) -> None:
            for entry in entries:
                if (year is None or entry.year == year) and entry.index not in tier_of:
                    tier_of[entry.index] = (tier, entry)

        add(self._by_key.get(key, []) + self._by_key.get(_without_article(key), []), 0)
        prefix, inner = self._keys_containing(key)
        for keys, tier in ((prefix, 1), (inner, 2)):
            for k in keys:
                add(self._by_key[self._keys[k]], tier)
        ranked = sorted(tier_of.values(), key=lambda te: (te[0], len(te[1].title), te[1].title))
        found = [entry for _, entry in ranked]
        if len(found) < limit:
            close = process.extract(
                key, self._keys, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF, limit=None
            )
            seen = set(tier_of)
            for close_key, _, _ in close:
                for entry in self._by_key[close_key]:
                    if entry.index not in seen and (year is None or entry.year == year):
                        seen.add(entry.index)
                        found.append(entry)
        return found[:limit]

    def _keys_containing(self, key: str) -> tuple[list[int], list[int]]:
        """Positions in `_keys` of the keys that start with `key`, and of those that contain it
        further in."""
        prefix: list[int] = []
        inner: list[int] = []
        pos = self._haystack.find(key)
        while pos >= 0:
            # The first hit inside a key is its leftmost, so a prefix is never taken for inner.
            i = bisect.bisect_right(self._starts, pos) - 1
            (prefix if pos == self._starts[i] else inner).append(i)
            if i + 1 == len(self._starts):
                break
            pos = self._haystack.find(key, self._starts[i + 1])
        return prefix, inner


def _without_article(key: str) -> str:
    first, _, rest = key.partition(" ")
    return rest if first in _ARTICLES else key
