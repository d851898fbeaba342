"""Movies added after training: found, filtered, similar, scored and listed at once; refined by
their raters; edits and takedowns take effect; the trained recommender is never changed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from reelrank.config import TrainingConfig, preset
from reelrank.data.catalog.catalog import ListFilter
from reelrank.experiment.run import train_recommender
from reelrank.recommender.live_movies import refine
from reelrank.recommender.recommender import Recommender
from reelrank.store.movies import StoredMovie
from reelrank.store.store import StoredRating
from reelrank.types import Ratings


@pytest.fixture(scope="module")
def two_stage(ratings: Ratings) -> Recommender:
    config = preset("two-stage")
    fast = TrainingConfig(batch_size=256, epochs=3, validation_fraction=0.05)
    return train_recommender(
        ratings, dataclasses.replace(config, training=fast, retrieval_training=fast)
    )


def new_movie(movie_id: str, title: str, genres: tuple[str, ...], year: int = 2026) -> StoredMovie:
    return StoredMovie(movie_id, True, title, genres, year)


def test_an_added_movie_is_everywhere_at_once(two_stage: Recommender) -> None:
    trained_size = two_stage.catalog.movies.size
    grown = two_stage.with_movies([new_movie("9001", "Brand New Film", ("Comedy", "Drama"))])
    assert two_stage.catalog.movies.size == trained_size  # the trained one is untouched
    info = grown.catalog.movie_info("9001")
    assert (info.movie_title, info.year, info.genres) == (
        "Brand New Film (2026)",
        2026,
        ["Comedy", "Drama"],
    )
    assert grown.catalog.search_movies("brand new")[0].movie_id == "9001"
    assert grown.catalog.movie_info("brand new film").movie_id == "9001"
    similar = grown.similar("9001", 5)
    assert len(similar) == 5 and all(r.movie_id != "9001" for r in similar)
    [scored] = grown.score("1", ["9001"])
    low, high = grown.rating_scale
    assert scored.predicted_rating is not None and low <= scored.predicted_rating <= high
    # A list filtered to this year's films holds it alone.
    only_new = ListFilter(year_from=2026)
    assert [r.movie_id for r in grown.recommend("1", 5, only=only_new)] == ["9001"]
    assert [r.movie_id for r in grown.recommend_for_liked(["1"], 5, only=only_new)] == ["9001"]
    # Someone who liked it gets a list from it, without it.
    liked = grown.recommend_for_liked(["9001"], 5)
    assert len(liked) == 5 and "9001" not in {r.movie_id for r in liked}


def test_raters_pull_an_added_movie_into_their_kind_of_lists(two_stage: Recommender) -> None:
    movie = new_movie("9001", "Brand New Film", ("Comedy",))
    fans = [str(u) for u in range(1, 21)]
    rated = [StoredRating(u, "9001", 5.0, 1) for u in fans]
    before = two_stage.with_movies([movie])
    after = two_stage.with_movies([movie], rated)
    row = after.catalog.resolve_movie("9001")
    assert row == after.catalog.trained  # the first row after the trained ones
    users = np.array([after.catalog.user_index(u) for u in fans])
    assert after.retrieval is not None and before.live is not None and after.live is not None
    with torch.no_grad():
        queries = after.retrieval.user_embedding(torch.from_numpy(users))
        gain = queries @ (after.live.vectors[0] - before.live.vectors[0])
    assert float(gain.mean()) > 0  # its raters score it higher than its content alone did
    assert after._log_popularity[row] == pytest.approx(np.log1p(20))
    # Rated 5 by everyone: its predicted rating rises towards 5.
    [rose], [was] = after.score("30", ["9001"]), before.score("30", ["9001"])
    assert rose.predicted_rating is not None and was.predicted_rating is not None
    assert rose.predicted_rating > was.predicted_rating
    # Known users who rated it in the store: their lists computed from their whole history
    # leave it out like any movie they rated.
    history = np.append(after.seen.movies_of(1), row)
    stars = np.append(after.seen.ratings_of(1), 5.0)
    listed = after.recommend_for_ratings(history, stars, 20)
    assert "9001" not in {r.movie_id for r in listed}


def test_a_takedown_and_an_edit_take_effect(two_stage: Recommender) -> None:
    popular = two_stage.movies_to_rate(1)[0].movie_id
    row = two_stage.catalog.resolve_movie(popular)
    title = two_stage.catalog.movie_title(row)
    down = StoredMovie(popular, False, None, None, None, hidden=True)
    grown = two_stage.with_movies([down])
    every = np.arange(1, grown.catalog.users.size)
    assert not (grown.recommend_many(every, 20).movies == row).any()
    assert not (grown.recommend_many(every, 20, include_seen=True).movies == row).any()
    assert popular not in {m.movie_id for m in grown.movies_to_rate(20)}
    assert popular not in {m.movie_id for m in grown.catalog.search_movies(title[:8], 50)}
    assert grown.catalog.is_hidden(row) and not two_stage.catalog.is_hidden(row)
    liked = grown.recommend_for_liked(["2"], 30)
    assert popular not in {r.movie_id for r in liked}
    # An edit: new genres change which filters pass it.
    edited = two_stage.with_movies([StoredMovie(popular, False, None, ("Western",), None)])
    assert edited.catalog.movie_info(popular).genres == ["Western"]
    assert not np.isin(row, ListFilter(("Western",)).blocked(edited.catalog.table))
    assert edited.catalog.movie_title(row) == title


def test_growing_starts_from_the_trained_recommender(two_stage: Recommender) -> None:
    once = two_stage.with_movies([new_movie("9001", "One", ("Drama",))])
    again = once.with_movies([new_movie("9002", "Two", ("Drama",))])
    assert "9001" not in again.catalog.id_to_title
    assert again.catalog.movies.size == two_stage.catalog.movies.size + 1
    # A stored movie the artifact already has (it was retrained since) is not added twice.
    known = two_stage.catalog.movie_id(1)
    same = two_stage.with_movies([StoredMovie(known, True, "Whatever", ("Drama",), 2000)])
    assert same.catalog.movies.size == two_stage.catalog.movies.size


def test_a_title_the_data_set_has_is_told_apart_by_its_id(two_stage: Recommender) -> None:
    taken = two_stage.catalog.movie_title(1)
    grown = two_stage.with_movies([StoredMovie("9001", True, taken, ("Drama",), None)])
    assert grown.catalog.movie_info("9001").movie_title == f"{taken} [9001]"


def test_a_rating_only_model_scores_added_movies(recommender: Recommender) -> None:
    grown = recommender.with_movies([new_movie("9001", "Brand New Film", ("Comedy",))])
    [scored] = grown.score("1", ["9001"])
    assert scored.predicted_rating is not None
    assert grown.recommend("1", 5)  # lists still come, from the trained movies


def test_refine_moves_from_content_to_the_raters() -> None:
    content = torch.zeros(4)
    queries = torch.eye(4)[:2]
    targets = torch.tensor([1.0, 2.0])
    assert torch.equal(refine(content, queries[:0], targets[:0]), content)
    halfway = refine(content, queries, targets, trust=1.0)
    assert torch.allclose(queries @ halfway, targets / 2)
    close = refine(content, queries, targets, trust=1e-6)
    assert torch.allclose(queries @ close, targets, atol=1e-4)
    assert close[2:].abs().max() == 0  # what no rater says stays as the content had it


def test_a_rating_never_lowers_its_raters_score() -> None:
    content = torch.tensor([2.0, 0.0])
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    refined = refine(content, queries, torch.tensor([1.0, 1.0]), trust=1e-6)
    assert torch.allclose(queries @ refined, torch.tensor([2.0, 1.0]), atol=1e-4)


def test_trust_must_be_positive() -> None:
    with pytest.raises(ValueError, match="trust must be above 0"):
        refine(torch.zeros(2), torch.eye(2), torch.ones(2), trust=0)
