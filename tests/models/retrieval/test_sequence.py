"""SequenceModel and its training: causality (no position sees a later movie), the same query
with or without padding, fold-in of any history, and an order a model can learn, learned."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor

from reelrank.config import RetrievalModelConfig, TrainingConfig
from reelrank.data.encoding.encoded import EncodedRatings
from reelrank.data.encoding.features import history_table
from reelrank.errors import ReelrankError
from reelrank.models.retrieval.factory import retrieval_model_from_state_dict
from reelrank.models.retrieval.sequence import SequenceModel, left_aligned
from reelrank.runtime.distributed import World
from reelrank.training.loop import RunContext
from reelrank.training.sequence import Sequences, fit_sequence

N_USERS, N_MOVIES, LENGTH = 6, 12, 8
CONFIG = RetrievalModelConfig(
    kind="sequence",
    embedding_dim=8,
    attention_heads=2,
    movie_features=("title_tokens", "genres", "year"),
    max_history=LENGTH,
    sequence_dropout=0.0,
)


def _movie_tables() -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(2)
    tokens = torch.randint(1, 30, (N_MOVIES + 1, 3), generator=g)
    tokens[:, 2] = 0
    return {
        "title_tokens": tokens,
        "genres": (torch.rand(N_MOVIES + 1, 19, generator=g) < 0.2).float(),
        "year": torch.randint(0, 10, (N_MOVIES + 1,), generator=g),
    }


def _histories() -> Tensor:
    g = torch.Generator().manual_seed(1)
    table = torch.randint(1, N_MOVIES + 1, (N_USERS + 1, LENGTH), generator=g)
    table[:, :3] = 0  # right-aligned: padding first
    table[0] = 0  # the unknown user
    table[2, :-1] = 0  # user 2 has watched one movie
    return table


def _model(seed: int = 0) -> SequenceModel:
    return SequenceModel(
        CONFIG,
        n_users=N_USERS,
        n_movies=N_MOVIES,
        histories=_histories(),
        movie_tables=_movie_tables(),
        generator=torch.Generator().manual_seed(seed),
    ).eval()


def test_no_position_sees_a_later_movie() -> None:
    model = _model()
    window = torch.tensor([[3, 5, 7, 2, 9, 4, 0, 0]])
    changed = window.clone()
    changed[0, 3:6] = torch.tensor([11, 1, 6])
    with torch.no_grad():
        before, after = model.encode(window), model.encode(changed)
    assert torch.allclose(before[0, :3], after[0, :3], atol=1e-6)
    assert not torch.allclose(before[0, 3:6], after[0, 3:6], atol=1e-4)


def test_padding_never_changes_a_query() -> None:
    model = _model()
    history = torch.tensor([3, 5, 7])
    padded = torch.tensor([[3, 5, 7, 0, 0, 0, 0, 0]])
    with torch.no_grad():
        assert torch.allclose(model.fold_in(history), model.encode(padded)[0, 2], atol=1e-5)
        assert torch.equal(model.encode(padded)[0, 3:], torch.zeros(5, 8))
        assert torch.equal(
            left_aligned(torch.tensor([[0, 0, 4, 2], [1, 2, 3, 4], [0, 0, 0, 0]])),
            torch.tensor([[4, 2, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0]]),
        )


def test_a_known_user_is_their_history_folded_in() -> None:
    model = _model()
    with torch.no_grad():
        for user in (1, 2, 5):
            history = model.table_history[user]
            expected = model.fold_in(history[history > 0])
            served = model.user_embedding(torch.tensor([user]))[0]
            assert torch.allclose(served, expected, atol=1e-5)
        assert torch.equal(model.user_embedding(torch.tensor([0])), torch.zeros(1, 8))


def test_fold_in_reads_the_latest_movies_in_order() -> None:
    model = _model()
    long = torch.arange(1, N_MOVIES + 1)  # longer than the window: its latest LENGTH count
    with torch.no_grad():
        assert torch.allclose(model.fold_in(long), model.fold_in(long[-LENGTH:]), atol=1e-6)
        assert not torch.allclose(
            model.fold_in(torch.tensor([3, 5, 7])), model.fold_in(torch.tensor([7, 5, 3]))
        )
        each = model.fold_in_each(torch.tensor([4, 9]))
        assert torch.allclose(each[1], model.fold_in(torch.tensor([9])), atol=1e-6)
    with pytest.raises(ValueError, match="at least one known movie"):
        model.fold_in(torch.tensor([0, 0]))


def test_a_window_longer_than_the_model_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 8 movies"):
        _model().encode(torch.ones(1, LENGTH + 1, dtype=torch.long))


def test_heads_must_divide_the_width() -> None:
    config = RetrievalModelConfig(kind="sequence", embedding_dim=6, attention_heads=4)
    with pytest.raises(ValueError, match="multiple of attention_heads"):
        SequenceModel(
            config, n_users=1, n_movies=2, histories=torch.zeros(2, config.max_history).long()
        )


def test_the_state_dict_alone_rebuilds_it() -> None:
    model = _model()
    rebuilt = retrieval_model_from_state_dict(CONFIG, model.state_dict()).eval()
    users = torch.arange(N_USERS + 1)
    assert torch.allclose(model.score_all(users)[:, 1:], rebuilt.score_all(users)[:, 1:])


def _ordered_world(n_users: int = 60, n_movies: int = 30) -> EncodedRatings:
    """Everyone watches movies in the same cyclic order (m, m + 1, ...), from their own start:
    the next movie is always the one after the last."""
    rng = np.random.default_rng(0)
    users, movies, times = [], [], []
    for user in range(1, n_users + 1):
        start, count = int(rng.integers(n_movies)), int(rng.integers(6, 15))
        for step in range(count):
            users.append(user)
            movies.append((start + step) % n_movies + 1)
            times.append(step)
    n = len(users)
    return EncodedRatings(
        user_idx=np.array(users, np.int64),
        movie_idx=np.array(movies, np.int64),
        rating=np.full(n, 4.0, np.float32),
        timestamp=np.array(times, np.int64),
    )


def test_it_learns_what_comes_next() -> None:
    world = _ordered_world()
    seen = world.by_user(61)
    config = RetrievalModelConfig(kind="sequence", embedding_dim=16, max_history=10)
    model = SequenceModel(
        config,
        n_users=60,
        n_movies=30,
        histories=torch.from_numpy(history_table(seen, 61, 10)),
        generator=torch.Generator().manual_seed(0),
    )
    training = TrainingConfig(
        optimizer="adam", learning_rate=0.01, batch_size=16, epochs=60, patience=5
    )
    fit = fit_sequence(model, seen, training)
    assert fit.losses[-1] < fit.losses[0] / 2
    assert max(fit.validation_ndcg) > 0.9  # the held-out latest movie, ranked first
    # Served: after 4, 5, 6 comes 7.
    assert int(model.score_history(torch.tensor([4, 5, 6])).argmax()) == 7


def test_validation_holds_out_each_latest_movie() -> None:
    seen = _ordered_world(n_users=3).by_user(4)
    data = Sequences.of(seen, 5, hold_out_last=True)
    for row in range(3):
        movies = seen.movies_of(row + 1)
        assert int(data.held_out[row]) == movies[-1]
        window = data.validation[row][data.validation[row] > 0]
        assert window[-1] == movies[-2]  # never the held-out one
        targets = data.targets[row][data.targets[row] > 0]
        assert int(targets[-1]) == movies[-2]  # training stops before it


def test_several_processes_are_refused_plainly() -> None:
    seen = _ordered_world(n_users=3).by_user(4)
    model = _model()
    context = RunContext(world=World(rank=0, size=2))
    with pytest.raises(ReelrankError, match="one process"):
        fit_sequence(model, seen, TrainingConfig(epochs=1), context=context)
