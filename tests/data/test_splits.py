import numpy as np
import pytest

from reelrank.data.splits import (
    parse_split,
    split_fold,
    split_leave_last_n,
    split_random,
    split_ratings,
    split_temporal,
)
from reelrank.errors import ReelrankError
from reelrank.types import Ratings


def _is_partition(train: np.ndarray, test: np.ndarray, n: int) -> bool:
    return np.array_equal(np.sort(np.r_[train, test]), np.arange(n))


def test_random_split_is_seeded_and_sized() -> None:
    train, test = split_random(100_000, train_fraction=0.8, seed=42)
    assert (len(train), len(test)) == (80_000, 20_000)
    assert _is_partition(train, test, 100_000)
    again, _ = split_random(100_000, train_fraction=0.8, seed=42)
    other, _ = split_random(100_000, train_fraction=0.8, seed=1)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_fold_split_is_grouplens_row_blocks() -> None:
    for fold in range(1, 6):
        train, test = split_fold(100_000, fold=fold)
        assert np.array_equal(test, np.arange((fold - 1) * 20_000, fold * 20_000))
        assert _is_partition(train, test, 100_000)
    with pytest.raises(ValueError):
        split_fold(10, fold=6)


def test_temporal_split_cuts_at_one_global_time() -> None:
    ts = np.array([50, 10, 40, 20, 30])
    train, test = split_temporal(ts, train_fraction=0.6)
    assert train.tolist() == [1, 3, 4] and test.tolist() == [0, 2]
    assert ts[train].max() <= ts[test].min()


def test_leave_last_n_per_user_keeps_small_users_in_train() -> None:
    users = np.array(["a", "b", "a", "a", "b", "c"])
    ts = np.array([3, 1, 1, 2, 5, 9])
    train, test = split_leave_last_n(users, ts, n=1)
    # a's latest is row 0 (t=3); b's latest is row 4; c has one rating and stays in train
    assert test.tolist() == [0, 4]
    assert train.tolist() == [1, 2, 3, 5]
    _, test2 = split_leave_last_n(users, ts, n=2)
    assert test2.tolist() == [0, 3]  # b has only 2 ratings: not more than n, all train


def test_split_specs_parse_and_reject_clearly() -> None:
    assert str(parse_split("random:0.8")) == "random:0.8"
    assert str(parse_split("fold:3")) == "fold:3"
    assert str(parse_split("leave-last:1")) == "leave-last:1"
    for bad in ["random", "random:1.5", "fold:0", "fold:6", "leave-last:0", "x:1", "temporal:a"]:
        with pytest.raises(ReelrankError, match="invalid split"):
            parse_split(bad)


def test_split_ratings_returns_tables(ratings: Ratings) -> None:
    train, test = split_ratings(ratings, "random:0.8", seed=42)
    assert len(train) + len(test) == len(ratings)
    assert len(test) == round(len(ratings) * 0.2)
