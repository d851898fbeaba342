"""In-batch sampled softmax: each option against a small case worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from reelrank.config import RetrievalLossConfig
from reelrank.models.retrieval.losses import (
    RetrievalLoss,
    _UniqueCandidateSoftmax,
    log_sampling_probability,
    sampled_softmax_loss,
)

# b = 3, d = 2. Rows 0 and 2 rated the same movie (id 5). The logits U @ M.T are
#   row 0: [2, 0, 2]
#   row 1: [0, 1, 0]
#   row 2: [2, 1, 2]
USERS = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
MOVIES = torch.tensor([[2.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
MOVIE_IDS = torch.tensor([5, 7, 5])
e = math.e


def _xent(logits: list[float], positive: int) -> float:
    return -logits[positive] + math.log(sum(math.exp(x) for x in logits))


def test_plain_loss_is_mean_cross_entropy_with_diagonal_positives() -> None:
    expected = [
        -2 + math.log(e**2 + 1 + e**2),
        -1 + math.log(1 + e + 1),
        -2 + math.log(e**2 + e + e**2),
    ]
    loss = sampled_softmax_loss(USERS, MOVIES)
    assert loss.item() == pytest.approx(sum(expected) / 3, rel=1e-6)
    total = sampled_softmax_loss(USERS, MOVIES, reduction="sum")
    assert total.item() == pytest.approx(sum(expected), rel=1e-6)


def test_accidental_hits_are_removed_from_the_rows_of_their_positive() -> None:
    # Row 0 loses column 2 (movie 5 again), row 2 loses column 0; row 1 is untouched.
    expected = [
        -2 + math.log(e**2 + 1),
        -1 + math.log(1 + e + 1),
        -2 + math.log(e + e**2),
    ]
    loss = sampled_softmax_loss(USERS, MOVIES, movie_ids=MOVIE_IDS, remove_accidental_hits=True)
    assert loss.item() == pytest.approx(sum(expected) / 3, rel=1e-6)
    # Without duplicates the option changes nothing.
    distinct = torch.tensor([1, 2, 3])
    assert sampled_softmax_loss(
        USERS, MOVIES, movie_ids=distinct, remove_accidental_hits=True
    ).item() == pytest.approx(sampled_softmax_loss(USERS, MOVIES).item())


def test_accidental_hits_need_movie_ids() -> None:
    with pytest.raises(ValueError, match="movie_ids"):
        sampled_softmax_loss(USERS, MOVIES, remove_accidental_hits=True)


def test_temperature_divides_the_logits() -> None:
    logits = [[1.0, 0.0, 1.0], [0.0, 0.5, 0.0], [1.0, 0.5, 1.0]]  # the logits / 2
    expected = sum(_xent(row, i) for i, row in enumerate(logits)) / 3
    loss = sampled_softmax_loss(USERS, MOVIES, temperature=2.0)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_log_q_is_subtracted_from_every_logit_of_its_column() -> None:
    log_q = torch.tensor([-1.0, -2.0, -1.0])  # adds [1, 2, 1] to the columns
    expected = [
        -3 + math.log(2 * e**3 + e**2),
        -3 + math.log(2 * e + e**3),
        math.log(3.0),
    ]
    loss = sampled_softmax_loss(USERS, MOVIES, log_q=log_q)
    assert loss.item() == pytest.approx(sum(expected) / 3, rel=1e-6)


def test_temperature_applies_before_log_q_as_in_tfrs() -> None:
    log_q = torch.tensor([-1.0, -2.0, -1.0])
    logits = [[2.0, 2.0, 2.0], [1.0, 2.5, 1.0], [2.0, 2.5, 2.0]]  # logits / 2 + [1, 2, 1]
    expected = sum(_xent(row, i) for i, row in enumerate(logits)) / 3
    loss = sampled_softmax_loss(USERS, MOVIES, temperature=2.0, log_q=log_q)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_sample_weight_scales_each_example_and_mean_divides_by_batch() -> None:
    per_example = [
        -2 + math.log(e**2 + 1 + e**2),
        -1 + math.log(1 + e + 1),
        -2 + math.log(e**2 + e + e**2),
    ]
    weights = torch.tensor([1.0, 2.0, 0.0])
    loss = sampled_softmax_loss(USERS, MOVIES, sample_weight=weights)
    assert loss.item() == pytest.approx((per_example[0] + 2 * per_example[1]) / 3, rel=1e-6)


def test_gradients_flow_to_both_towers_and_stay_finite_with_masking() -> None:
    users = USERS.clone().requires_grad_(True)
    movies = MOVIES.clone().requires_grad_(True)
    loss = sampled_softmax_loss(
        users,
        movies,
        movie_ids=MOVIE_IDS,
        remove_accidental_hits=True,
        temperature=0.5,
        log_q=torch.tensor([-1.0, -2.0, -1.0]),
    )
    loss.backward()
    assert users.grad is not None and movies.grad is not None
    assert torch.isfinite(users.grad).all() and torch.isfinite(movies.grad).all()
    assert users.grad.abs().sum() > 0 and movies.grad.abs().sum() > 0


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="same"):
        sampled_softmax_loss(USERS, MOVIES[:2])
    with pytest.raises(ValueError, match="temperature"):
        sampled_softmax_loss(USERS, MOVIES, temperature=0.0)
    with pytest.raises(ValueError, match="log_q"):
        sampled_softmax_loss(USERS, MOVIES, log_q=torch.zeros(2))
    with pytest.raises(ValueError, match="reduction"):
        sampled_softmax_loss(USERS, MOVIES, reduction="max")  # type: ignore[arg-type]


def test_log_sampling_probability_is_log_share_of_counts() -> None:
    counts = torch.tensor([0, 1, 3])
    log_q = log_sampling_probability(counts)
    assert log_q.tolist() == pytest.approx([math.log(1 / 4), math.log(1 / 4), math.log(3 / 4)])


def test_retrieval_loss_module_follows_its_config() -> None:
    counts = torch.tensor([0, 0, 0, 0, 0, 4, 0, 1])  # movie 5 seen 4 times, movie 7 once
    config = RetrievalLossConfig(temperature=2.0, remove_accidental_hits=True, logq_correction=True)
    module = RetrievalLoss(config, movie_counts=counts)
    expected = sampled_softmax_loss(
        USERS,
        MOVIES,
        movie_ids=MOVIE_IDS,
        temperature=2.0,
        remove_accidental_hits=True,
        log_q=torch.log(torch.tensor([0.8, 0.2, 0.8])),
    )
    assert module(USERS, MOVIES, MOVIE_IDS).item() == pytest.approx(expected.item(), rel=1e-6)
    assert "log_q_table" not in module.state_dict()
    with pytest.raises(ValueError, match="movie_counts"):
        RetrievalLoss(RetrievalLossConfig(logq_correction=True))


def _naive_loss(
    user: torch.Tensor,
    movie: torch.Tensor,
    ids: torch.Tensor,
    temperature: float,
    remove: bool,
    log_q: torch.Tensor | None,
    weight: torch.Tensor | None,
) -> torch.Tensor:
    """The textbook [batch, batch] formulation, to check the unique-movie one against."""
    logits = user @ movie.T / temperature
    if log_q is not None:
        logits = logits - log_q[None, :]
    if remove:
        same = ids[:, None] == ids[None, :]
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, torch.finfo(logits.dtype).min / 100)
    per_row = torch.nn.functional.cross_entropy(logits, torch.arange(len(ids)), reduction="none")
    return (per_row if weight is None else weight * per_row).sum()


# More than two blocks of rows and a part-filled last one, so every option goes through the
# blocked path's block boundaries (a batch within one block would hide a broken boundary).
BLOCK = _UniqueCandidateSoftmax.ROWS_PER_BLOCK
BATCH = 2 * BLOCK + 77


@pytest.mark.parametrize("temperature", [1.0, 0.3])
@pytest.mark.parametrize("remove", [False, True])
@pytest.mark.parametrize("with_log_q", [False, True])
@pytest.mark.parametrize("with_weight", [False, True])
def test_unique_movie_scoring_equals_the_full_batch_softmax(
    temperature: float, remove: bool, with_log_q: bool, with_weight: bool
) -> None:
    generator = torch.Generator().manual_seed(0)
    table = torch.randn(40, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    users = torch.randn(BATCH, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    ids = torch.randint(0, 40, (BATCH,), generator=generator)  # many duplicates
    log_q = torch.randn(40, generator=generator, dtype=torch.float64) if with_log_q else None
    weight = torch.rand(BATCH, generator=generator, dtype=torch.float64) if with_weight else None
    row_log_q = None if log_q is None else log_q[ids]
    assert BATCH > 2 * BLOCK
    fast = sampled_softmax_loss(
        users,
        table[ids],
        movie_ids=ids,
        temperature=temperature,
        remove_accidental_hits=remove,
        log_q=row_log_q,
        sample_weight=weight,
        reduction="sum",
    )
    fast_grads = torch.autograd.grad(fast, (users, table))
    slow = _naive_loss(users, table[ids], ids, temperature, remove, row_log_q, weight)
    slow_grads = torch.autograd.grad(slow, (users, table))
    torch.testing.assert_close(fast, slow)
    for a, b in zip(fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(a, b)
