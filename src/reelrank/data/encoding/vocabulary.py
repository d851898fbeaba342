"""`Vocabulary`: string ids ⇄ contiguous integers, like Keras `StringLookup(mask_token=None)`.

Index 0 stands for "unknown"; known terms get 1..n in sorted order, and terms added after
training (`appended`: a movie added at run time) the next numbers, so no earlier index moves. The
unknown-id policy is an explicit argument (`missing="error"` or `"unknown"`), as in LensKit's
`Vocabulary.number`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
from rapidfuzz import fuzz, process, utils

from reelrank.errors import UnknownIdError

UNKNOWN_INDEX = 0


class Vocabulary:
    """A set of unique string terms, numbered from 1 (0 is the unknown slot): sorted, unless
    `ordered` keeps the order given (an appended vocabulary, read back).

    `name` says what the terms are ("user_id", "movie_title") and appears in error messages.
    """

    def __init__(self, terms: Iterable[str], *, name: str = "term", ordered: bool = False) -> None:
        array = np.asarray(list(terms) if not isinstance(terms, np.ndarray) else terms)
        array = array.astype(str) if ordered else np.unique(array).astype(str)
        self.name = name
        self.terms: np.ndarray = array  # [n] unique, index order (sorted unless appended to)
        self._term_list: list[str] = self.terms.tolist()
        self._folded: list[str] | None = None  # the terms as `suggestions` compares them
        self._lookup: dict[str, int] = {t: i + 1 for i, t in enumerate(self._term_list)}
        if len(self._lookup) != len(self._term_list):
            raise ValueError(f"vocabulary {name!r} has duplicate terms")
        # `numbers` searches a sorted copy: the terms themselves unless some were appended.
        self._order: np.ndarray | None = None
        self._sorted = self.terms
        if ordered and len(array) > 1 and not bool((array[1:] > array[:-1]).all()):
            self._order = np.argsort(array, kind="stable")
            self._sorted = array[self._order]

    def appended(self, terms: Sequence[str]) -> Vocabulary:
        """This vocabulary with new `terms` numbered after the last one (every index it had
        keeps its term); a term it knows already, or one given twice, is an error."""
        known = [t for t in terms if t in self._lookup]
        if known:
            raise ValueError(f"{self.name} {known[0]!r} is known already")
        return Vocabulary([*self._term_list, *terms], name=self.name, ordered=True)

    def __len__(self) -> int:
        """The number of known terms (the embedding table needs `len(vocab) + 1` rows)."""
        return len(self.terms)

    @property
    def size(self) -> int:
        """Rows an embedding table over this vocabulary needs: the known terms plus unknown."""
        return len(self.terms) + 1

    def __contains__(self, term: object) -> bool:
        return term in self._lookup

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocabulary)
            and self.name == other.name
            and np.array_equal(self.terms, other.terms)
        )

    def __repr__(self) -> str:
        return f"Vocabulary(name={self.name!r}, size={len(self)})"

    def number(self, term: str, *, missing: Literal["error", "unknown"] = "error") -> int:
        """The index of one term; an unknown term raises (with suggestions) or maps to 0."""
        index = self._lookup.get(term)
        if index is not None:
            return index
        if missing == "unknown":
            return UNKNOWN_INDEX
        raise UnknownIdError(self.unknown_message(term))

    def numbers(
        self, terms: Sequence[str] | np.ndarray, *, missing: Literal["error", "unknown"] = "unknown"
    ) -> np.ndarray:
        """`[n]` int64 indices of many terms (vectorised: a sorted search, no per-row Python)."""
        terms = np.asarray(terms).astype(str)
        if len(self.terms) == 0:
            positions = np.zeros(len(terms), dtype=np.int64)
            found = np.zeros(len(terms), dtype=bool)
        else:
            positions = np.minimum(np.searchsorted(self._sorted, terms), len(self.terms) - 1)
            found = self._sorted[positions] == terms
            if self._order is not None:
                positions = self._order[positions]
        if missing == "error" and not found.all():
            raise UnknownIdError(self.unknown_message(str(terms[~found][0])))
        return np.where(found, positions + 1, UNKNOWN_INDEX).astype(np.int64)

    def term(self, index: int) -> str:
        """The term numbered `index` (1..n)."""
        if not 1 <= index <= len(self.terms):
            raise IndexError(f"{self.name} index {index} is outside 1..{len(self.terms)}")
        return str(self.terms[index - 1])

    def suggestions(self, term: str, n: int = 3) -> list[str]:
        """Up to `n` known terms that look like `term`, best first.

        rapidfuzz's `fuzz.ratio` (Indel similarity, 0..100, close to difflib's ratio) on
        lower-cased alphanumerics, from 60 up: a user id a digit off, a title with another year.
        It scans every term in C++: milliseconds even for MovieLens 25M's 162k user ids.
        """
        if self._folded is None:  # folded once, on the first unknown term, not per lookup
            self._folded = [utils.default_process(t) for t in self._term_list]
        query = utils.default_process(term)
        found = process.extract(query, self._folded, scorer=fuzz.ratio, limit=n, score_cutoff=60)
        return [self._term_list[index] for _, _, index in found]

    def unknown_message(self, term: str) -> str:
        close = self.suggestions(term)
        hint = f" Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown {self.name} {term!r}: it is not among the {len(self)} known.{hint}"

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "terms": self.terms.tolist()}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Vocabulary:
        terms = data.get("terms")
        name = data.get("name")
        if not isinstance(terms, list) or not isinstance(name, str):
            raise ValueError("a vocabulary JSON needs a string 'name' and a list 'terms'")
        # In index order as saved: sorted, unless terms were appended after training.
        return cls(terms, name=name, ordered=True)
