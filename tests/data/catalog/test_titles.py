import dataclasses

import numpy as np
import pytest

from reelrank.data.catalog.titles import (
    AmbiguousTitleError,
    TitleMatcher,
    normalize,
    release_year,
    split_query_year,
    split_release_year,
)
from reelrank.data.encoding.encoded import MovieTable, Vocabularies
from reelrank.data.encoding.features import movie_tables
from reelrank.errors import ReelrankError, UnknownIdError
from reelrank.testing.ml100k_files import synthetic_ratings
from reelrank.types import Ratings

TITLES = [
    "Usual Suspects, The (1995)",
    "Star Wars (1977)",
    "Hamlet (1948)",
    "Hamlet (1996)",
    "Seven (Se7en) (1995)",
    "Á köldum klaka (Cold Fever) (1994)",
    "Godfather, The (1972)",
    "Godfather: Part II, The (1974)",
    "Toy Story (1995)",
    "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
    "Крестный отец (1972)",
    "千と千尋の神隠し (2001)",
    "Ζορμπάς (1964)",
    "1900 (1976)",
    "2001: A Space Odyssey (1968)",
    "Blade Runner 2049 (2017)",
]


@pytest.fixture(scope="module")
def matcher() -> TitleMatcher:
    return TitleMatcher(TITLES)


def test_split_year_and_normalize() -> None:
    assert split_release_year("Toy Story (1995)") == ("Toy Story", 1995)
    assert split_query_year("Toy Story 1995") == ("Toy Story", 1995)
    assert split_query_year("1984") == ("1984", None)
    assert normalize("Usual Suspects, The") == "the usual suspects"
    assert normalize("  STAR-wars!! ") == "star wars"


# (title, its release year, what a typed query reads from the same text)
YEAR_CASES = [
    ("Toy Story (1995)", 1995, ("Toy Story", 1995)),
    ("Toy Story 1995", None, ("Toy Story", 1995)),  # a bare year: only a typed query has one
    ("(1995)", None, ("(1995)", None)),  # no name before the year: no year
    ("1900 (1976)", 1976, ("1900", 1976)),
    ("2001: A Space Odyssey (1968)", 1968, ("2001: A Space Odyssey", 1968)),
    ("Seven (Se7en) (1995)", 1995, ("Seven (Se7en)", 1995)),
    ("Land Before Time III: The Time of the Great Giving (1995) (V)", None, None),
    ("unknown", None, ("unknown", None)),
    ("Toy Story (1995", None, ("Toy Story (1995", None)),
    ("Toy Story (١٩٩٥)", None, ("Toy Story (١٩٩٥)", None)),  # ASCII digits only
    ("1984", None, ("1984", None)),
]


@pytest.mark.parametrize(("title", "year", "query"), YEAR_CASES)
def test_one_year_parser_for_catalogue_and_queries(
    title: str, year: int | None, query: tuple[str, int | None] | None
) -> None:
    """The catalogue's years (`MovieTable.year`), the title features and the matcher agree, because
    they call one parser; typed queries use it too and only add the bare trailing year."""
    assert release_year(title) == year
    assert split_release_year(title)[1] == year
    if query is not None:
        assert split_query_year(title) == query
    titles = np.array([title])
    ratings_like = _one_movie(title)
    vocabs = Vocabularies.from_ratings(ratings_like)
    catalog = MovieTable.from_ratings(ratings_like, vocabs.movies)
    assert catalog.year[1] == (year or 0)
    features = movie_tables(catalog, vocabs)
    assert (features["year"][1] > 0) == (year is not None)
    assert TitleMatcher(titles.tolist()).search(title, limit=1)[0].year == year


def _one_movie(title: str) -> Ratings:
    ratings = synthetic_ratings(n_users=2, n_movies=3, ratings_per_user=1)
    return dataclasses.replace(ratings, movie_title=np.full(len(ratings), title))


def test_normalize_keeps_every_script_and_folds_accents() -> None:
    assert normalize("Amélie") == "amelie"
    # Only combining marks go: "й" is "и" plus a breve in NFKD, so it folds like "é" does.
    assert normalize("Крестный отец") == "крестныи отец" == normalize("КРЕСТНЫИ ОТЕЦ")
    assert normalize("千と千尋の神隠し") == "千と千尋の神隠し"
    assert normalize("Ζορμπάς") == "ζορμπασ"  # accent dropped; final sigma case-folded
    assert normalize("ＴＯＹ　ＳＴＯＲＹ") == "toy story"  # full-width forms (NFKD)
    assert normalize("हिन्दी फ़िल्म") != ""  # Indic vowel signs stay inside their word
    assert len(normalize("हिन्दी फ़िल्म").split()) == 2


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("Star Wars (1977)", "Star Wars (1977)"),
        ("star wars", "Star Wars (1977)"),
        ("STAR WARS (1977)", "Star Wars (1977)"),
        ("the usual suspects", "Usual Suspects, The (1995)"),
        ("Usual Suspects, The", "Usual Suspects, The (1995)"),
        ("usual suspects", "Usual Suspects, The (1995)"),
        ("godfather", "Godfather, The (1972)"),
        ("hamlet (1948)", "Hamlet (1948)"),
        ("seven", "Seven (Se7en) (1995)"),
        ("se7en", "Seven (Se7en) (1995)"),
        ("cold fever", "Á köldum klaka (Cold Fever) (1994)"),
        ("a koldum klaka", "Á köldum klaka (Cold Fever) (1994)"),
        ("amelie", "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
        (
            "le fabuleux destin d'amelie poulain",
            "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
        ),
        ("крестный отец", "Крестный отец (1972)"),
        ("КРЕСТНЫЙ ОТЕЦ (1972)", "Крестный отец (1972)"),
        ("千と千尋の神隠し", "千と千尋の神隠し (2001)"),
        ("ζορμπας", "Ζορμπάς (1964)"),
        ("1900", "1900 (1976)"),
        ("1900 1976", "1900 (1976)"),
        ("2001: a space odyssey", "2001: A Space Odyssey (1968)"),
        ("blade runner 2049", "Blade Runner 2049 (2017)"),  # 2049 is the title, not a year
    ],
)
def test_forgiving_matches(matcher: TitleMatcher, query: str, title: str) -> None:
    assert TITLES[matcher.match(query) - 1] == title


def test_ambiguous_title_lists_candidates(matcher: TitleMatcher) -> None:
    with pytest.raises(AmbiguousTitleError) as raised:
        matcher.match("hamlet")
    assert raised.value.candidates == ["Hamlet (1948)", "Hamlet (1996)"]
    assert "Give the year" in str(raised.value)


def test_unknown_title_suggests_close_ones(matcher: TitleMatcher) -> None:
    with pytest.raises(UnknownIdError, match=r"Did you mean: 'Star Wars \(1977\)'"):
        matcher.match("Starwars")
    with pytest.raises(UnknownIdError, match="Toy Story"):
        matcher.match("Toy Story (1999)")  # wrong year: suggest the title anyway
    with pytest.raises(ReelrankError, match="empty movie title"):
        matcher.match("  ")


def test_search_orders_exact_then_prefix_then_substring(matcher: TitleMatcher) -> None:
    found = [e.title for e in matcher.search("godfather", limit=5)]
    assert found[:2] == ["Godfather, The (1972)", "Godfather: Part II, The (1974)"]
    assert [e.title for e in matcher.search("ham", limit=5)] == ["Hamlet (1948)", "Hamlet (1996)"]
    assert [e.title for e in matcher.search("wars")] == ["Star Wars (1977)"]
    assert matcher.search("", limit=5) == []
    assert len(matcher.search("a", limit=2)) == 2


def test_non_latin_titles_are_searchable(matcher: TitleMatcher) -> None:
    assert [e.title for e in matcher.search("крестный")] == ["Крестный отец (1972)"]
    assert [e.title for e in matcher.search("отец")] == ["Крестный отец (1972)"]
    assert [e.title for e in matcher.search("千尋")] == ["千と千尋の神隠し (2001)"]
    assert [e.title for e in matcher.search("Ζορμ")] == ["Ζορμπάς (1964)"]
    assert matcher.search("крестный отец (1999)") == []  # the year filters here too
    with pytest.raises(UnknownIdError, match="Крестный отец"):
        matcher.match("крёстный отецъ")  # a close spelling is suggested


def test_search_close_spellings_come_last_and_respect_the_year(matcher: TitleMatcher) -> None:
    found = [e.title for e in matcher.search("godfater")]
    assert found[:2] == ["Godfather, The (1972)", "Godfather: Part II, The (1974)"]
    assert matcher.search("star wars", limit=3)[0].title == "Star Wars (1977)"
    assert [e.title for e in matcher.search("hamlet (1996)")] == ["Hamlet (1996)"]
    assert [e.title for e in matcher.search("amlet 1948")] == ["Hamlet (1948)"]
