"""The retrieval stage joined with ranking: presets, fold-in, similar movies, artifacts."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from reelrank.config import ExperimentConfig, TrainingConfig, preset
from reelrank.data.catalog.titles import AmbiguousTitleError
from reelrank.data.splits import split_ratings
from reelrank.errors import ReelrankError, UnknownIdError
from reelrank.experiment.run import evaluate_recommender, train_recommender
from reelrank.recommender.lists import LIST_ORDERS
from reelrank.recommender.recommender import Recommender
from reelrank.types import Ratings

FAST = TrainingConfig(batch_size=256, epochs=3)


def fast(name: str, **changes: object) -> ExperimentConfig:
    """A preset with training shortened for the synthetic data."""
    config = preset(name)
    retrieval_training = config.retrieval_training and FAST
    # An ensemble blends its models on validation rows: those stay held out.
    training = dataclasses.replace(FAST, validation_fraction=config.training.validation_fraction)
    return dataclasses.replace(
        config, training=training, retrieval_training=retrieval_training, **changes
    )


@pytest.fixture(scope="module")
def two_stage(ratings: Ratings) -> Recommender:
    return train_recommender(ratings, fast("two-stage", candidates=20))


@pytest.mark.parametrize(
    "name",
    [
        *("seed-retrieval", "multitask", "popularity", "ease", "edlae", "two-tower", "two-stage"),
        "sequential",
        *("seed-biased", "features", "dcn", "mf", "svdpp", "autorec", "best"),
    ],
)
def test_every_preset_trains_evaluates_and_round_trips(
    ratings: Ratings, tmp_path: Path, name: str
) -> None:
    recommender = train_recommender(ratings, fast(name))
    metrics = recommender.metrics
    assert ("root_mean_squared_error" in metrics) == (recommender.rater is not None)
    if name != "popularity":  # popularity's lists are ties, scored pessimistically
        # The saved figures are those of the lists `recommend` serves, worked out here.
        assert metrics["known_user/recall@10"] == pytest.approx(
            served_recall(recommender, ratings, 10)
        )
    if recommender.rater is None:
        # With no ranking stage the served list is the retrieval list.
        assert metrics["known_user/recall@10"] == pytest.approx(metrics["retrieval/recall@10"])
    loaded = Recommender.load(recommender.save(tmp_path / name))
    assert loaded.recommend("4", 5) == recommender.recommend("4", 5)
    if recommender.retrieval is not None:  # similar movies come from the retrieval model
        assert loaded.similar("1", 3) == recommender.similar("1", 3)
    again = evaluate_recommender(loaded, ratings)
    for key in ("retrieval/recall@10", "known_user/recall@10", "root_mean_squared_error"):
        if key in metrics:
            assert again[key] == pytest.approx(metrics[key]), key


def served_recall(recommender: Recommender, ratings: Ratings, k: int) -> float:
    """Recall@k of the lists `recommend` serves each test user, against their test movies."""
    config = recommender.config
    train, test = split_ratings(ratings, config.split, seed=config.training.seed)
    known = {str(u) for u in train.user_id}
    recalls = []
    for user in np.unique(test.user_id):
        if user not in known:
            continue
        wanted = set(test.movie_title[test.user_id == user]) - set(
            train.movie_title[train.user_id == user]
        )
        if wanted:
            served = {r.movie_title for r in recommender.recommend(user, k)}
            recalls.append(len(served & wanted) / len(wanted))
    return float(np.mean(recalls))


@pytest.mark.parametrize("name", ["ease", "edlae", "two-stage"])
def test_learned_models_beat_popularity_on_structured_data(ratings: Ratings, name: str) -> None:
    popularity = train_recommender(ratings, fast("popularity")).metrics
    learned = train_recommender(ratings, fast(name)).metrics
    for key in ("retrieval/recall@10", "retrieval/ndcg@10"):
        assert learned[key] > popularity[key] * 1.1, (key, learned[key], popularity[key])


def test_both_orders_serve_retrievals_candidates(two_stage: Recommender) -> None:
    user = "7"
    seen = {t for _, t, _ in two_stage.rated_movies(user)}
    # Retrieval's 20 candidates for this user, best first.
    assert two_stage.retrieval is not None and two_stage.index is not None
    query = two_stage.retrieval.user_embedding(torch.tensor([two_stage.catalog.user_index(user)]))
    exclude = [two_stage.seen.movies_of(two_stage.catalog.user_index(user))]
    _, rows = two_stage.index.search(query, 20, exclude=exclude)
    candidates = [two_stage.catalog.movie_title(int(r)) for r in rows[0]]

    # The default, relevance: retrieval's own order, its top 10, predicted ratings alongside.
    relevance = two_stage.recommend(user, 10)
    assert relevance == two_stage.recommend(user, 10, order="relevance")
    assert len(relevance) == 10 and not seen & {r.movie_title for r in relevance}
    assert [r.movie_title for r in relevance] == candidates[:10]
    scores = [r.retrieval_score for r in relevance]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    assert all(r.predicted_rating is not None for r in relevance)

    # predicted_rating: the same candidates, the 10 with the highest predicted ratings first.
    by_rating = two_stage.recommend(user, 10, order="predicted_rating")
    assert len(by_rating) == 10 and {r.movie_title for r in by_rating} <= set(candidates)
    ratings = [r.predicted_rating for r in by_rating]
    assert ratings == sorted(ratings, reverse=True)  # type: ignore[type-var]
    every = {t: r for t, r in zip(candidates, two_stage.score(user, candidates), strict=True)}
    best = sorted(every.values(), key=lambda r: -(r.predicted_rating or 0))[:10]
    assert [r.predicted_rating for r in by_rating] == pytest.approx(
        [r.predicted_rating for r in best]
    )
    # A movie carries the same numbers in either order.
    for r in by_rating:
        assert r.predicted_rating == pytest.approx(every[r.movie_title].predicted_rating)
    assert [r.movie_title for r in by_rating] != [r.movie_title for r in relevance]


def test_recommend_many_serves_the_same_lists_in_either_order(two_stage: Recommender) -> None:
    users = np.arange(1, 8)
    for order in LIST_ORDERS:
        lists = two_stage.recommend_many(users, 5, order=order)
        for row, user in enumerate(users):
            user_id = two_stage.catalog.users.term(int(user))
            served = [r.movie_id for r in two_stage.recommend(user_id, 5, order=order)]
            assert [two_stage.catalog.movie_id(int(m)) for m in lists.movies[row]] == served
        ranked_by = lists.retrieval_score if order == "relevance" else lists.predicted_rating
        assert ranked_by is not None and np.array_equal(lists.order_score, ranked_by)


def test_liked_movies_order_by_a_typical_users_rating_on_request(two_stage: Recommender) -> None:
    liked = ["1", "2"]
    relevance = two_stage.recommend_for_liked(liked, 10)
    scores = [r.retrieval_score for r in relevance]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    by_rating = two_stage.recommend_for_liked(liked, 10, order="predicted_rating")
    ratings = [r.predicted_rating for r in by_rating]
    assert ratings == sorted(ratings, reverse=True)  # type: ignore[type-var]
    candidates = {r.movie_id for r in two_stage.recommend_for_liked(liked, 20)}
    assert {r.movie_id for r in by_rating} <= candidates  # config.candidates is 20 here


def test_orders_say_what_is_wrong(ratings: Ratings, two_stage: Recommender) -> None:
    with pytest.raises(ReelrankError, match=r"order must be 'relevance' .* got 'best'"):
        two_stage.recommend("7", 5, order="best")  # type: ignore[arg-type]
    with pytest.raises(ReelrankError, match="order must be"):
        two_stage.recommend_for_liked(["1"], 5, order="rating")  # type: ignore[arg-type]
    ease = train_recommender(ratings, fast("ease"))
    with pytest.raises(ReelrankError, match="no rating model, so it cannot order by predicted"):
        ease.recommend("7", 5, order="predicted_rating")
    with pytest.raises(ReelrankError, match="no rating model"):
        ease.recommend_for_liked(["1"], 5, order="predicted_rating")
    # Retrieval alone: relevance is its own score.
    scores = [r.retrieval_score for r in ease.recommend("7", 10)]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


def test_liked_movies_are_never_recommended_back(two_stage: Recommender) -> None:
    user = two_stage.catalog.user_index("7")
    history = [two_stage.catalog.movie_title(int(m)) for m in two_stage.seen.movies_of(user)]
    liked = two_stage.recommend_for_liked(history, 5)
    assert len(liked) == 5 and not set(history) & {r.movie_title for r in liked}


def test_item_item_fold_in_of_a_users_history_is_that_user(ratings: Ratings) -> None:
    edlae = train_recommender(ratings, fast("edlae"))
    assert edlae.retrieval is not None
    user = edlae.catalog.user_index("7")
    folded = edlae.retrieval.fold_in(torch.from_numpy(edlae.seen.movies_of(user)))
    known = edlae.retrieval.user_embedding(torch.tensor([user]))[0]
    torch.testing.assert_close(folded, known)  # item-item: the query is the history


def test_liked_accepts_ids_and_forgiving_titles(two_stage: Recommender) -> None:
    title = two_stage.catalog.movie_title(3)
    by_title = two_stage.recommend_for_liked([title.lower()], 5)
    by_id = two_stage.recommend_for_liked([two_stage.catalog.movie_id(3)], 5)
    assert by_title == by_id


def test_liked_and_similar_errors(two_stage: Recommender) -> None:
    with pytest.raises(ReelrankError, match="no liked movies"):
        two_stage.recommend_for_liked([], 5)
    with pytest.raises(UnknownIdError, match="no movie matches"):
        two_stage.recommend_for_liked(["Nothing Like It (1901)"], 5)
    with pytest.raises(UnknownIdError, match="unknown movie id '99999'"):
        two_stage.similar("99999")
    with pytest.raises(ReelrankError, match="k must be a positive integer"):
        two_stage.similar("1", 0)


def test_ambiguous_titles_are_reported(ratings: Ratings) -> None:
    twins = ratings.take(np.arange(len(ratings)))
    title_1 = twins.movie_title[twins.movie_id == "1"][0]
    twins.movie_title[twins.movie_id == "2"] = title_1[:-5] + "1901)"  # same name, another year
    recommender = train_recommender(twins, fast("ease"))
    with pytest.raises(AmbiguousTitleError):
        recommender.similar(title_1[:-7])


def test_similar_excludes_the_movie_itself(two_stage: Recommender) -> None:
    recs = two_stage.similar("1", 5)
    assert len(recs) == 5 and two_stage.catalog.movie_info("1").movie_title not in {
        r.movie_title for r in recs
    }
    scores = [r.retrieval_score for r in recs]
    assert scores == sorted(scores, reverse=True)


def test_search_movies_and_info(two_stage: Recommender) -> None:
    info = two_stage.catalog.movie_info("1")
    found = two_stage.catalog.search_movies(info.movie_title.split(" (")[0], limit=3)
    assert found[0] == info and info.year is not None and info.genres
    assert two_stage.catalog.search_movies("", limit=3) == []


def test_multitask_shares_one_set_of_embeddings(ratings: Ratings, tmp_path: Path) -> None:
    recommender = train_recommender(ratings, fast("multitask"))
    loaded = Recommender.load(recommender.save(tmp_path / "multi"))
    assert loaded.rater is not None and loaded.retrieval is not None
    tower = loaded.retrieval.user_tower.id_embedding  # type: ignore[union-attr]
    assert loaded.rater.user_embedding is tower


def test_hnsw_index_reloads(ratings: Ratings, tmp_path: Path) -> None:
    pytest.importorskip("faiss", reason="faiss-cpu (the 'ann' extra) is not installed")
    recommender = train_recommender(ratings, fast("ease", index="hnsw"))
    loaded = Recommender.load(recommender.save(tmp_path / "hnsw"))
    assert type(loaded.index).__name__ == "FaissIndex"
    assert loaded.recommend("3", 5) == recommender.recommend("3", 5)


def test_cached_user_scores_match_the_index(two_stage: Recommender) -> None:
    assert two_stage._user_scores is not None  # the synthetic catalogue is small: cached
    cached = two_stage.recommend("7", 10, include_seen=True)
    saved, two_stage._user_scores = two_stage._user_scores, None
    try:
        through_index = two_stage.recommend("7", 10, include_seen=True)
    finally:
        two_stage._user_scores = saved
    assert [r.movie_id for r in cached] == [r.movie_id for r in through_index]
    assert [r.retrieval_score for r in cached] == pytest.approx(
        [r.retrieval_score for r in through_index], rel=1e-4
    )


def test_evaluate_leaves_out_training_rows_and_refuses_other_data(ratings: Ratings) -> None:
    recommender = train_recommender(ratings, fast("ease"))
    own = evaluate_recommender(recommender, ratings)
    assert own["test_ratings_dropped_as_trained_on"] == 0
    assert own["test_ratings"] == recommender.metrics["test_ratings"]
    # The last 20% by time overlaps the random split's training rows: those are left out.
    later = evaluate_recommender(recommender, ratings, "temporal:0.8")
    assert later["test_ratings_dropped_as_trained_on"] > 0
    assert later["test_ratings"] + later["test_ratings_dropped_as_trained_on"] == 300
    with pytest.raises(ReelrankError, match="trained on other ratings"):
        evaluate_recommender(recommender, ratings.take(np.arange(len(ratings) - 1)))


@pytest.mark.parametrize("k", [10**6, 10**10, 10**18])
def test_a_huge_k_is_clamped_to_the_catalogue_before_anything_is_allocated(
    two_stage: Recommender, k: int
) -> None:
    """A list never has more places than there are movies: `-k 10000000000` once tried to pad
    every list to k columns (tens of GB, or a RuntimeError)."""
    n_movies = len(two_stage.catalog.movies)
    liked = two_stage.catalog.movies.term(1)
    for recs in (
        two_stage.recommend("5", k),
        two_stage.recommend("5", k, order="predicted_rating", offset=k),
        two_stage.recommend_for_liked([liked], k),
        two_stage.similar(liked, k),
    ):
        assert len(recs) < n_movies
    lists = two_stage.recommend_many(np.array([1, 2]), k)
    assert lists.movies.shape == (2, n_movies)


def test_a_rating_history_is_folded_in_from_its_likes_only(two_stage: Recommender) -> None:
    """A low rating is not a like: it leaves its movie out of the list and pulls nothing up."""
    catalog = two_stage.catalog
    liked, disliked = catalog.resolve_movie("1"), catalog.resolve_movie("2")
    both = two_stage.recommend_for_ratings(np.array([liked, disliked]), np.array([5.0, 1.0]), k=8)
    alone = two_stage.recommend_for_history(np.array([liked]), 8, also_exclude=np.array([disliked]))
    assert [r.movie_id for r in both] == [catalog.movie_id(int(m)) for m in alone.movies[0]]
    assert {r.movie_id for r in both}.isdisjoint({"1", "2"})
    assert all(r.because_movie_id == "1" for r in both)  # explained by the like only


def test_the_latest_likes_weigh_more_in_a_growing_history(two_stage: Recommender) -> None:
    """A rating history's last `recent_likes` liked movies are folded in once more, weighted
    `recent_weight`: the list moves toward them. A history no longer than that window, or a
    weight of 0, gives the plain fold-in's list."""
    config = two_stage.config
    assert (config.recent_likes, config.recent_weight) == (5, 8.0)
    n_movies = two_stage.catalog.movies.size - 1
    history = np.arange(1, 16)  # 15 liked movies, oldest first
    stars = np.full(len(history), 5.0)
    k = 10

    def served(recommender: Recommender, movies: np.ndarray) -> list[str]:
        return [
            r.movie_id for r in recommender.recommend_for_ratings(movies, stars[: len(movies)], k)
        ]

    plain = two_stage.recommend_for_history(history, k)
    plain_ids = [two_stage.catalog.movie_id(int(m)) for m in plain.movies[0]]
    recent = two_stage.recommend_for_history(history[-5:], k, also_exclude=history)
    recent_ids = [two_stage.catalog.movie_id(int(m)) for m in recent.movies[0]]
    weighted = served(two_stage, history)
    assert weighted != plain_ids and n_movies > 30
    # Closer to the list of the last 5 alone than the whole history's list is.
    assert len(set(weighted) & set(recent_ids)) > len(set(plain_ids) & set(recent_ids))
    # Off: the plain fold-in. Short: unchanged.
    off = copy.copy(two_stage)
    off.config = dataclasses.replace(config, recent_weight=0.0)
    assert served(off, history) == plain_ids
    short = history[:5]
    plain_short = two_stage.recommend_for_history(short, k)
    assert served(two_stage, short) == [
        two_stage.catalog.movie_id(int(m)) for m in plain_short.movies[0]
    ]


def test_a_history_of_dislikes_gets_the_popular_movies_it_has_not_rated(
    two_stage: Recommender,
) -> None:
    rated = np.array([two_stage.catalog.resolve_movie(m) for m in ("1", "2", "3")])
    recs = two_stage.recommend_for_ratings(rated, np.array([1.0, 2.0, 1.0]), k=5)
    popular = two_stage.recommend_many(np.array([1]), 5)  # for scale: the lists' shape
    assert len(recs) == 5 and len(popular.movies[0]) == 5
    assert {r.movie_id for r in recs}.isdisjoint({"1", "2", "3"})
    assert all(r.because_movie_id is None for r in recs)
    counts = np.bincount(two_stage.seen.movie_idx, minlength=two_stage.catalog.movies.size)
    shown = [counts[two_stage.catalog.resolve_movie(r.movie_id)] for r in recs]
    assert shown == sorted(shown, reverse=True)  # most rated first


def test_liked_mask_reads_likes_against_the_scale() -> None:
    from reelrank.recommender.explanations import liked_mask

    scale = (1.0, 5.0)
    assert liked_mask(np.array([5.0, 3.0, 4.0]), scale).tolist() == [True, False, True]
    assert liked_mask(np.array([3.5, 3.0]), scale).tolist() == [True, False]  # best, above middle
    assert liked_mask(np.array([3.0, 2.0, 1.0]), scale).tolist() == [False, False, False]
    assert liked_mask(np.array([]), scale).tolist() == []
