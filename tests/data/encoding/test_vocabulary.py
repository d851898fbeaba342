import numpy as np
import pytest

from reelrank.data.encoding.vocabulary import UNKNOWN_INDEX, Vocabulary
from reelrank.errors import UnknownIdError


def test_like_keras_string_lookup_sorted_from_one_with_zero_unknown() -> None:
    vocab = Vocabulary(["b", "a", "c", "a"], name="user_id")
    assert vocab.terms.tolist() == ["a", "b", "c"]
    assert len(vocab) == 3 and vocab.size == 4
    assert [vocab.number(t) for t in "abc"] == [1, 2, 3]
    assert vocab.numbers(np.array(["c", "zz", "a"])).tolist() == [3, UNKNOWN_INDEX, 1]
    assert vocab.term(2) == "b"


def test_unknown_policy_is_explicit_and_suggests_close_terms() -> None:
    vocab = Vocabulary(["Star Wars (1977)", "Fargo (1996)"], name="movie_title")
    assert vocab.number("Star Wars", missing="unknown") == UNKNOWN_INDEX
    with pytest.raises(UnknownIdError, match=r"Did you mean: 'Star Wars \(1977\)'"):
        vocab.number("Star Wars (1978)")
    with pytest.raises(UnknownIdError, match="unknown movie_title"):
        vocab.numbers(["nope"], missing="error")
    with pytest.raises(IndexError):
        vocab.term(0)


def test_json_round_trip_and_duplicate_check() -> None:
    vocab = Vocabulary(["x", "y"], name="user_id")
    assert Vocabulary.from_json(vocab.to_json()) == vocab
    with pytest.raises(ValueError, match="duplicate"):
        Vocabulary.from_json({"name": "user_id", "terms": ["x", "x"]})


def test_empty_vocabulary_maps_everything_to_unknown() -> None:
    assert Vocabulary([], name="user_id").numbers(["a"]).tolist() == [0]


def test_an_unknown_user_id_suggests_close_ones() -> None:
    vocab = Vocabulary([str(u) for u in range(1, 944)], name="user_id")
    with pytest.raises(UnknownIdError, match=r"unknown user_id '0943'.*Did you mean: '943'"):
        vocab.number("0943")
    # One digit too many: the ids one deletion away score alike, in id order.
    assert set(vocab.suggestions("9430", n=4)) == {"430", "930", "940", "943"}
    assert vocab.suggestions("abc") == []


def test_title_suggestions_ignore_case_and_accents_of_non_latin_terms() -> None:
    vocab = Vocabulary(["Крестный отец (1972)", "Star Wars (1977)"], name="movie_title")
    assert vocab.suggestions("крестный отец (1973)") == ["Крестный отец (1972)"]
    assert vocab.suggestions("STAR WARS") == ["Star Wars (1977)"]
