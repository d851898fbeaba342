import pytest

from reelrank.data.titles import AmbiguousTitleError, TitleMatcher, normalize, split_year
from reelrank.types import ReelrankError, UnknownIdError

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
]


@pytest.fixture(scope="module")
def matcher() -> TitleMatcher:
    return TitleMatcher(TITLES)


def test_split_year_and_normalize() -> None:
    assert split_year("Toy Story (1995)") == ("Toy Story", 1995)
    assert split_year("Toy Story 1995") == ("Toy Story", 1995)
    assert split_year("1984") == ("1984", None)
    assert normalize("Usual Suspects, The") == "the usual suspects"
    assert normalize("  STAR-wars!! ") == "star wars"


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
