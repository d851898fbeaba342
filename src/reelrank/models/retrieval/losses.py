"""Retrieval losses: in-batch sampled softmax with the corrections the field uses.

The batch's movies are the candidate set: row `i` of the user embeddings rated the movie in row `i`
of the movie embeddings (the positive, on the diagonal), and every other movie in the batch is a
sampled negative. Semantics follow TensorFlow Recommenders' `tfrs.tasks.Retrieval` (order of the
corrections: temperature, then log-Q, then accidental hits), except the reduction: TFRS sums the
per-example losses by default, reelrank takes the mean unless asked for `reduction="sum"`.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from reelrank.config import RetrievalLossConfig

__all__ = ["RetrievalLoss", "log_sampling_probability", "sampled_softmax_loss"]

Reduction = Literal["mean", "sum"]


def sampled_softmax_loss(
    user_emb: Tensor,
    movie_emb: Tensor,
    *,
    movie_ids: Tensor | None = None,
    temperature: float = 1.0,
    remove_accidental_hits: bool = False,
    log_q: Tensor | None = None,
    sample_weight: Tensor | None = None,
    reduction: Reduction = "mean",
    query_rows: Tensor | None = None,
) -> Tensor:
    """In-batch sampled softmax cross-entropy; the positives are on the diagonal.

    Args:
        user_emb: `[batch, dim]` query (user tower) embeddings.
        movie_emb: `[batch, dim]` candidate (movie tower) embeddings; row `i` is user `i`'s
            positive.
        movie_ids: `[batch]` movie indices of the candidates; needed for `remove_accidental_hits`.
            Rows with equal ids must have equal `movie_emb` rows (true of any movie tower): each
            distinct movie is scored once.
        temperature: the logits `user_emb @ movie_emb.T` are divided by it (must be > 0).
        remove_accidental_hits: when a movie occurs more than once in the batch, its copies off the
            diagonal are no negatives for the rows whose positive it is: their logits are pushed to
            a very large negative value (as TFRS does), so they drop out of the softmax.
        log_q: `[batch]` log sampling probability of each candidate (for in-batch sampling about
            `log(count / total)`, see `log_sampling_probability`). Subtracted from every logit of
            that candidate's column, the positive included (log-Q correction, Yi et al. 2019), so
            popular movies are not over-penalised as negatives.
        sample_weight: `[batch]` per-example weights.
        reduction: "mean" (the default: `sum(weight * loss) / batch`, Keras' convention, so the
            weights scale rather than renormalise) or "sum" (TFRS' default).
        query_rows: `[q]` rows of the batch that `user_emb` (then `[q, dim]`) and
            `sample_weight` (then `[q]`) hold, the others' queries being elsewhere: each of
            several processes scores its own share of the batch's queries against all of the
            batch's movies, and their losses add up to the whole batch's (the mean still divides
            by the whole batch). None: every row.

    Returns:
        A scalar tensor.
    """
    if user_emb.ndim != 2 or movie_emb.ndim != 2:
        raise ValueError(
            f"user_emb and movie_emb must be [batch, dim]; got shapes "
            f"{tuple(user_emb.shape)} and {tuple(movie_emb.shape)}"
        )
    rows_given = query_rows is not None
    if rows_given and (
        query_rows.ndim != 1 or query_rows.shape[0] != user_emb.shape[0]  # type: ignore[union-attr]
    ):
        raise ValueError(f"query_rows must be [{user_emb.shape[0]}] rows, one per query")
    if rows_given and user_emb.shape[1:] != movie_emb.shape[1:]:
        raise ValueError(
            f"user_emb [q, dim] and movie_emb [batch, dim] must share dim; got shapes "
            f"{tuple(user_emb.shape)} and {tuple(movie_emb.shape)}"
        )
    if not rows_given and user_emb.shape != movie_emb.shape:
        raise ValueError(
            f"user_emb and movie_emb must have the same [batch, dim] shape; got "
            f"{tuple(user_emb.shape)} and {tuple(movie_emb.shape)}"
        )
    batch = movie_emb.shape[0]
    if batch == 0:
        raise ValueError("sampled_softmax_loss needs a non-empty batch")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    _check_vector("movie_ids", movie_ids, batch)
    _check_vector("log_q", log_q, batch)
    _check_vector("sample_weight", sample_weight, user_emb.shape[0])

    if remove_accidental_hits and movie_ids is None:
        raise ValueError("remove_accidental_hits=True needs movie_ids, the [batch] movie indices")
    if movie_ids is None:
        # Every row's candidate counts as a distinct movie.
        movie_ids = torch.arange(batch, device=user_emb.device)

    # A batch of 8192 ratings holds at most a couple of thousand distinct movies, and every copy of
    # a movie has the same logit. So the [batch, batch] logits are computed as [batch, unique] with
    # log(copies) added to each column: the same softmax, about five times less work.
    rows = torch.arange(batch, device=user_emb.device)
    unique, column, copies = torch.unique(movie_ids, return_inverse=True, return_counts=True)
    first = torch.full((len(unique),), batch, dtype=torch.long, device=user_emb.device)
    first = first.scatter_reduce(0, column, rows, reduce="amin")  # a row holding each movie
    shift = torch.zeros(len(unique), dtype=user_emb.dtype, device=user_emb.device)
    if log_q is not None:
        # log-Q correction (Yi et al. 2019): each candidate's column, the positive's included.
        shift = -log_q.to(user_emb.dtype)[first]
    weight = torch.ones(user_emb.shape[0], dtype=user_emb.dtype, device=user_emb.device)
    if sample_weight is not None:
        weight = sample_weight.to(user_emb.dtype)
    if reduction == "mean":
        weight = weight / batch
    total: Tensor = _UniqueCandidateSoftmax.apply(
        user_emb,
        movie_emb[first],
        column if query_rows is None else column[query_rows],
        copies.to(user_emb.dtype).log(),
        shift,
        weight,
        temperature,
        remove_accidental_hits,
    )
    return total


class _UniqueCandidateSoftmax(torch.autograd.Function):
    """`sum_i w_i (logsumexp_u(z_iu + log copies_u) - z_i,column_i)` with `z = q c^T / T + shift`.

    The loss's gradient with respect to the logits is known in closed form (softmax minus one-hot),
    so forward computes loss and gradients together, a block of rows at a time: the logits block
    stays in the processor's cache and is never stored for the backward pass. With
    `remove_accidental_hits`, the positive's own column counts once (only the diagonal copy).
    """

    ROWS_PER_BLOCK = 512  # a [512, unique] float block fits in a core's cache

    @staticmethod
    def forward(
        ctx: Any,
        user_emb: Tensor,
        candidates: Tensor,
        column: Tensor,
        log_copies: Tensor,
        shift: Tensor,
        weight: Tensor,
        temperature: float,
        remove_accidental_hits: bool,
    ) -> Tensor:
        grad_user = torch.empty_like(user_emb)
        grad_candidates = torch.zeros_like(candidates)
        total = user_emb.new_zeros(())
        for start in range(0, user_emb.shape[0], _UniqueCandidateSoftmax.ROWS_PER_BLOCK):
            block = slice(start, start + _UniqueCandidateSoftmax.ROWS_PER_BLOCK)
            query, target, w = user_emb[block], column[block], weight[block]
            rows = torch.arange(len(target), device=user_emb.device)
            logits = torch.addmm(shift, query, candidates.T, alpha=1.0 / temperature)
            positive = logits[rows, target]
            logits += log_copies
            if remove_accidental_hits:
                logits[rows, target] = positive  # log(1): duplicates of the positive drop out
            lse = torch.logsumexp(logits, dim=1)
            total += (w * (lse - positive)).sum()
            # d loss / d logits = w * (softmax - one_hot(target)), then through z = q c^T / T.
            grad = logits.sub_(lse[:, None]).exp_()
            grad[rows, target] -= 1.0
            grad *= (w / temperature)[:, None]
            grad_user[block] = grad @ candidates
            grad_candidates.addmm_(grad.T, query)
        ctx.save_for_backward(grad_user, grad_candidates)
        return total

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        grad_user, grad_candidates = ctx.saved_tensors
        return grad_user * grad_output, grad_candidates * grad_output, *([None] * 6)


def log_sampling_probability(counts: Tensor) -> Tensor:
    """Log probability that in-batch sampling draws each movie: `log(count / total)`.

    Args:
        counts: `[n_movies + 1]` training interaction counts per movie index.

    Returns:
        `[n_movies + 1]` float32. Movies with zero count get `log(1 / total)` (they never occur in a
        batch, so the value only has to be finite).
    """
    if counts.ndim != 1 or counts.numel() == 0:
        raise ValueError(f"counts must be a non-empty 1-D tensor, got shape {tuple(counts.shape)}")
    counts = counts.to(torch.float64)
    if bool((counts < 0).any()):
        raise ValueError("counts must be non-negative")
    total = counts.sum()
    if total <= 0:
        raise ValueError("counts must not all be zero")
    return (counts.clamp(min=1.0) / total).log().to(torch.float32)


class RetrievalLoss(nn.Module):
    """`sampled_softmax_loss` configured from a `RetrievalLossConfig`.

    With `config.logq_correction`, `movie_counts` (`[n_movies + 1]` training counts) is required;
    its log sampling probabilities are kept as a (non-persistent) buffer, so `.to(device)` moves
    them and they are not saved with model weights.
    """

    log_q_table: Tensor | None

    def __init__(
        self,
        config: RetrievalLossConfig,
        *,
        movie_counts: Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.config = config
        self.reduction: Reduction = reduction
        if config.logq_correction:
            if movie_counts is None:
                raise ValueError(
                    "logq_correction=True needs movie_counts, the [n_movies + 1] training counts"
                )
            self.register_buffer(
                "log_q_table", log_sampling_probability(movie_counts), persistent=False
            )
        else:
            self.log_q_table = None

    def forward(
        self,
        user_emb: Tensor,
        movie_emb: Tensor,
        movie_ids: Tensor,
        sample_weight: Tensor | None = None,
        query_rows: Tensor | None = None,
    ) -> Tensor:
        """Scalar loss for `[batch, dim]` embeddings of a batch of `[batch]` positive movie ids
        (`query_rows`: see `sampled_softmax_loss`)."""
        log_q = None if self.log_q_table is None else self.log_q_table[movie_ids]
        return sampled_softmax_loss(
            user_emb,
            movie_emb,
            movie_ids=movie_ids,
            temperature=self.config.temperature,
            remove_accidental_hits=self.config.remove_accidental_hits,
            log_q=log_q,
            sample_weight=sample_weight,
            reduction=self.reduction,
            query_rows=query_rows,
        )


def _check_vector(name: str, value: Tensor | None, batch: int) -> None:
    if value is not None and tuple(value.shape) != (batch,):
        raise ValueError(f"{name} must have shape [{batch}], got {tuple(value.shape)}")
