""" "Because you liked X": the explainer on a hand-checkable model, then on served lists."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pytest
import torch
from torch import Tensor

from reelrank.config import RatingModelConfig, RetrievalModelConfig, TrainingConfig, preset
from reelrank.data.encoding.encoded import UserRatings
from reelrank.experiment.run import train_recommender
from reelrank.models.retrieval.base import RetrievalModel, known_history
from reelrank.recommender.explanations import Explainer, liked_movies
from reelrank.recommender.lists import LIST_ORDERS, Recommendation
from reelrank.recommender.recommender import Recommender
from reelrank.types import Ratings


class HandMade(RetrievalModel):
    """Movie vectors given by hand; someone who liked some movies is the sum of their vectors, so
    movie h's contribution to movie i is just `v_h · v_i`. Counts its fold-ins."""

    def __init__(self, vectors: Tensor) -> None:
        super().__init__()
        self.vectors = vectors
        self.n_movies = len(vectors) - 1
        self.fold_ins = 0

    def user_embedding(self, user_idx: Tensor) -> Tensor:
        raise NotImplementedError

    def movie_embedding(self, movie_idx: Tensor) -> Tensor:
        return self.vectors[movie_idx]

    def all_movie_embeddings(self) -> Tensor:
        return self.vectors

    def fold_in(self, history_movie_idx: Tensor) -> Tensor:
        self.fold_ins += 1
        return self.vectors[known_history(history_movie_idx, self.n_movies)].sum(dim=0)

    @classmethod
    def from_state_dict(
        cls, config: RetrievalModelConfig, state_dict: Mapping[str, Tensor]
    ) -> HandMade:
        raise NotImplementedError


# Movie 1 points one way, movie 2 another; movie 3 lies between them, movie 4 mostly along 1.
VECTORS = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.5]])


@pytest.mark.parametrize("max_cached", [0, 10, 1000], ids=["folded-each-time", "queries", "all"])
def test_the_liked_movie_that_contributes_most_explains(max_cached: int) -> None:
    explainer = Explainer(HandMade(VECTORS), max_cached=max_cached)
    for _ in range(2):  # the second time through, from whatever was kept
        # Movie 4: 1 contributes 2.0, 2 only 0.5. Movie 3: a tie (1.0 each): the most recent, 2.
        assert explainer.because(np.array([1, 2]), np.array([3, 4])).tolist() == [2, 1]
        assert explainer.because(np.array([2, 1]), np.array([3])).tolist() == [1]
        # A movie never explains itself; with nothing else liked, nothing explains it.
        assert explainer.because(np.array([1]), np.array([1, 3])).tolist() == [-1, 1]
        assert explainer.because(np.array([1, 4]), np.array([4])).tolist() == [1]
        assert explainer.because(np.array([], np.int64), np.array([3])).tolist() == [-1]


def test_a_one_off_list_folds_in_its_own_liked_movies_only() -> None:
    model = HandMade(VECTORS)
    explainer = Explainer(model, max_cached=1000)
    explainer.because(np.array([1, 2]), np.array([3, 4]))
    assert model.fold_ins == 2
    explainer.because(np.array([2, 1]), np.array([4]))
    assert model.fold_ins == 2  # kept
    explainer.because(np.array([3]), np.array([4]))  # a later list: every movie, once
    assert model.fold_ins == 4
    explainer.prepare()
    explainer.because(np.array([4, 3]), np.array([1]))
    assert model.fold_ins == 4
    fresh = HandMade(VECTORS)
    Explainer(fresh, max_cached=1000).prepare()  # what a server does at start-up
    assert fresh.fold_ins == 4


def test_liked_movies_are_those_rated_4_or_more_else_the_best_rated() -> None:
    seen = UserRatings(
        indptr=np.array([0, 0, 3, 6, 6]),
        movie_idx=np.array([1, 2, 3, 4, 5, 6]),
        rating=np.array([4.0, 2.0, 5.0, 3.0, 1.0, 3.0], dtype=np.float32),
    )
    assert liked_movies(seen, 1).tolist() == [1, 3]
    assert liked_movies(seen, 2).tolist() == [4, 6]  # nothing rated 4: their best, 3 stars
    assert liked_movies(seen, 3).tolist() == []


# -- on served lists -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_stage(ratings: Ratings) -> Recommender:
    fast = TrainingConfig(batch_size=256, epochs=3)
    config = preset("two-stage")
    return train_recommender(
        ratings,
        dataclasses.replace(
            config, rating=RatingModelConfig(), training=fast, retrieval_training=fast
        ),
    )


def contributions(model: Recommender, liked: np.ndarray, movie_id: str) -> np.ndarray:
    """`[h]` contributions of each liked movie to one movie, by the definition."""
    assert model.retrieval is not None
    movie = torch.tensor([model.catalog.resolve_movie(movie_id)])
    with torch.no_grad():
        vector = model.retrieval.movie_embedding(movie)[0]
        return np.array(
            [float(model.retrieval.fold_in(torch.tensor([int(h)])) @ vector) for h in liked]
        )


def assert_explained_by_the_top_contributor(
    model: Recommender, liked: np.ndarray, recs: list[Recommendation]
) -> None:
    assert recs
    for rec in recs:
        assert rec.because_movie_id is not None, rec
        index = model.catalog.resolve_movie(rec.because_movie_id)
        assert index in liked.tolist()
        assert rec.because_title == model.catalog.movie_title(index)
        found = contributions(model, liked, rec.movie_id)
        best = found.max()
        assert found[liked.tolist().index(index)] >= best - 1e-5 * max(1.0, abs(best))


def test_known_users_lists_name_a_liked_training_movie(two_stage: Recommender) -> None:
    for user_id in ("7", "12"):
        user = two_stage.catalog.user_index(user_id)
        liked = liked_movies(two_stage.seen, user)
        assert len(liked) >= 2
        for order in LIST_ORDERS:
            recs = two_stage.recommend(user_id, 10, order=order)
            assert_explained_by_the_top_contributor(two_stage, liked, recs)
        # Already-rated movies included: those explained by another liked movie, never themselves.
        for rec in two_stage.recommend(user_id, 30, include_seen=True):
            assert rec.because_movie_id != rec.movie_id


def test_liked_movies_lists_name_one_of_the_movies_given(two_stage: Recommender) -> None:
    given = ["1", "5", "9"]
    liked = np.array([two_stage.catalog.resolve_movie(m) for m in given])
    recs = two_stage.recommend_for_liked(given, 10)
    assert_explained_by_the_top_contributor(two_stage, liked, recs)
    page = two_stage.recommend_for_liked(given, 5, offset=5)
    assert page == recs[5:]  # a page is explained as the whole list is
    single = two_stage.recommend_for_liked(["3"], 5)
    title = two_stage.catalog.movie_info("3").movie_title
    assert {r.because_title for r in single} == {title}


def test_unexplained_lists(
    two_stage: Recommender, recommender: Recommender, ratings: Ratings
) -> None:
    assert all(r.because_title is None for r in two_stage.similar("1", 5))
    assert all(r.because_title is None for r in two_stage.score("7", ["1", "2"]))
    # A rating model alone: no retrieval model to say what brought a movie.
    assert all(r.because_title is None for r in recommender.recommend("7", 5))
    # The most popular movies, for a user with too little history, are nobody's because.
    rated = len(two_stage.rated_movies("7"))
    cold = Recommender(
        config=dataclasses.replace(two_stage.config, min_history=rated + 1),
        catalog=two_stage.catalog,
        seen=two_stage.seen,
        rater=two_stage.rater,
        retrieval=two_stage.retrieval,
        index=two_stage.index,
    )
    assert cold.popular_instead("7") is not None
    assert all(r.because_title is None for r in cold.recommend("7", 5))
    # Popularity ranks the same movies for everyone: nothing liked explains them.
    popularity = train_recommender(ratings, preset("popularity"))
    assert all(r.because_title is None for r in popularity.recommend("7", 5))
    assert all(r.because_title is None for r in popularity.recommend_for_liked(["1"], 5))
