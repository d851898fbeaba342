import math

import numpy as np
import pytest

from reelrank import metrics


def test_rmse_and_mae_hand_worked() -> None:
    y, p = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])
    assert metrics.rmse(y, p) == pytest.approx(math.sqrt(5 / 3))
    assert metrics.mae(y, p) == pytest.approx(1.0)


def test_rating_metrics_reject_mismatched_or_empty() -> None:
    with pytest.raises(ValueError, match="y_pred has 2"):
        metrics.rmse(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="zero predictions"):
        metrics.mae(np.ones(0), np.ones(0))


def test_factorized_top_k_scores_ties_pessimistically() -> None:
    scores = np.array(
        [
            [0.9, 0.1, 0.5, 0.3],  # target 2 has one higher: rank 1
            [0.2, 0.2, 0.2, 0.2],  # all tied: the target ranks behind the other three, rank 3
            [0.0, 0.1, 0.2, 0.3],  # target 0 is last: rank 3
            [0.5, 0.7, 0.5, 0.1],  # target 0 tied with column 2, one higher: rank 2
        ]
    )
    targets = np.array([2, 1, 0, 0])
    assert metrics.pessimistic_rank(scores, targets).tolist() == [1, 3, 3, 2]
    acc = metrics.factorized_top_k_accuracy(scores, targets, ks=(1, 2, 3, 4))
    assert acc == {1: 0.0, 2: 0.25, 3: 0.5, 4: 1.0}


def test_pessimistic_hits_move_to_the_back_of_their_tie() -> None:
    hits = np.array(
        [
            [True, False, False, False],  # run [0.9, 0.9] holds one hit: it moves to place 1
            [False, True, False, False],  # distinct scores: unchanged
            [False, False, True, False],  # the hit ties with the full list's last place: dropped
            [False, False, True, False],  # ... unless the list is not full (-inf padding)
            [True, True, False, False],  # a run of three with two hits: its last two places
        ]
    )
    scores = np.array(
        [
            [0.9, 0.9, 0.5, 0.1],
            [0.9, 0.8, 0.5, 0.1],
            [0.9, 0.8, 0.5, 0.5],
            [0.9, 0.8, 0.5, -np.inf],
            [0.7, 0.7, 0.7, 0.1],
        ]
    )
    assert metrics.pessimistic_hits(hits, scores).tolist() == [
        [False, True, False, False],
        [False, True, False, False],
        [False, False, False, False],
        [False, False, True, False],
        [False, True, True, False],
    ]
    # All alike: a list of equal scores finds nothing, whatever its order.
    flat = metrics.ranking_metrics(
        np.array([[1, 2, 3]]), np.array([0, 1]), np.array([1]), ks=(3,), top_scores=np.zeros((1, 3))
    )
    assert flat["recall@3"] == 0.0


def test_ranking_metrics_hand_worked() -> None:
    # user 0: relevant {3, 5}; top list [3, 1, 5] -> hits at ranks 1 and 3
    # user 1: relevant {2};    top list [4, 6, -1] -> no hit (and -1 never counts)
    # user 2: no relevant items -> left out of the averages
    top = np.array([[3, 1, 5], [4, 6, -1], [1, 2, 3]])
    indptr = np.array([0, 2, 3, 3])
    indices = np.array([3, 5, 2])
    hits = metrics.hit_matrix(top, indptr, indices)
    assert hits.tolist() == [[True, False, True], [False, False, False], [False, False, False]]
    n_rel = np.diff(indptr)
    assert metrics.recall_at_k(hits, n_rel, k=1) == pytest.approx((1 / 2 + 0) / 2)
    assert metrics.recall_at_k(hits, n_rel, k=3) == pytest.approx((2 / 2 + 0) / 2)
    assert metrics.hit_rate_at_k(hits, n_rel, k=3) == pytest.approx(0.5)
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3)
    assert metrics.ndcg_at_k(hits, n_rel, k=3) == pytest.approx((dcg / idcg + 0) / 2)
    # ideal DCG is over min(relevant, k): at k=1 user 0's ideal is one hit
    assert metrics.ndcg_at_k(hits, n_rel, k=1) == pytest.approx(0.5)
    out = metrics.ranking_metrics(top, indptr, indices, ks=(1, 3))
    assert set(out) == {f"{m}@{k}" for m in ("recall", "ndcg", "hit_rate") for k in (1, 3)}


def test_ranking_metrics_reject_bad_arguments() -> None:
    top = np.array([[1, 2]])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        metrics.recall_at_k(np.ones((1, 2), bool), np.array([1]), k=0)
    with pytest.raises(ValueError, match="needs top-5 lists"):
        metrics.ranking_metrics(top, np.array([0, 1]), np.array([1]), ks=(5,))
    with pytest.raises(ValueError, match="no user has a relevant item"):
        metrics.ranking_metrics(top, np.array([0, 0]), np.array([], dtype=int), ks=(1,))
