"""The `Index` interface, the search loop every index shares, and the checks behind it.

An index is built from item vectors `[n, dim]` (a retrieval model's `all_movie_embeddings()`,
row = movie index) and answers `search(queries [q, dim], k)` with the k largest inner products
per query, as `(scores [q, k], indices [q, k])`, best first.

Conventions shared by every index:

- Returned indices are movie indices: the row number, or `ids[row]` when the index was built with
  `ids`. Movie index 0 (unknown/padding) is never returned.
- Exclusions (e.g. movies the user has seen) are built in: one 1-D int array of movie indices per
  query; see `Exclusions`.
- The result always has `k` columns. Where fewer than `k` movies are left (k larger than the
  catalogue, or most of it excluded), the missing places are filled with index `-1` and score
  `-inf`, at the end of the row.
- Saving: `state()` gives `(tensors, config)`, a flat `dict[str, Tensor]` for safetensors and a
  small JSON-able dict that includes `"kind"`. The movie vectors themselves are never in it: they
  are the model's weights, which an artifact already holds, so `from_state` takes them back as
  `vectors=`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

__all__ = ["DEFAULT_BATCH_SIZE", "Exclusions", "Index"]

DEFAULT_BATCH_SIZE = 1024
MAX_SCORES_AT_ONCE = 1 << 24

Exclusions = Sequence[Tensor | np.ndarray | Sequence[int]]
"""What `search(..., exclude=...)` takes: for each query, a 1-D int array (numpy, tensor or list)
of the movie indices never to return."""


class Index(abc.ABC):
    """Top-k inner-product search over movie vectors; see the module docstring for conventions.

    Subclasses set `ids`, `_n_ids`, `_device` and `_dtype`, and score one batch of queries in
    `_search_batch`; batching, exclusions and padding are done here, the same for every kind.
    """

    kind: ClassVar[str]
    ids: Tensor  # [n] int64: the movie index of each row
    _n_ids: int  # one more than the largest movie index: the width of exclusion masks
    _device: torch.device  # where queries are scored and results are returned
    _dtype: torch.dtype  # the float type queries are scored in

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """The vector dimension."""

    @property
    def n_items(self) -> int:
        """Number of rows (vectors) the index was built from, padding included."""
        return int(self.ids.shape[0])

    def search(
        self,
        queries: Tensor,
        k: int,
        *,
        exclude: Exclusions | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> tuple[Tensor, Tensor]:
        """Top `k` movies per query.

        Args:
            queries: `[q, dim]` query vectors.
            k: number of results per query (> 0).
            exclude: movies never to return, one 1-D int array of movie indices per query.
            batch_size: queries scored at once; memory grows with `batch_size * n_items`.

        Returns:
            `scores [q, k]` float and `indices [q, k]` int64 movie indices, best first; missing
            places (fewer than k movies left) are `-inf` / `-1`.
        """
        check_search(queries, k, self.dim, batch_size)
        # Never more than ~16M scores at once, however large the catalogue (62k movies at 25M).
        batch_size = max(1, min(batch_size, MAX_SCORES_AT_ONCE // max(1, self._n_ids)))
        queries = queries.detach().to(device=self._device, dtype=self._dtype)
        masks = (
            None
            if exclude is None
            else _ExclusionMasks(exclude, len(queries), self._n_ids, self._device)
        )
        all_scores = [torch.empty(0, k, dtype=self._dtype, device=self._device)]
        all_indices = [torch.empty(0, k, dtype=torch.long, device=self._device)]
        for start in range(0, len(queries), batch_size):
            stop = min(start + batch_size, len(queries))
            excluded = None if masks is None else masks.batch(start, stop)
            scores, indices = self._search_batch(queries[start:stop], k, excluded)
            scores, indices = _pad_columns(scores, indices, k)
            all_scores.append(scores)
            all_indices.append(indices)
        return torch.cat(all_scores), torch.cat(all_indices)

    @abc.abstractmethod
    def _search_batch(
        self, queries: Tensor, k: int, excluded: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Top `k` of `[b, dim]` queries (on `_device`, in `_dtype`), leaving out the movies that
        `excluded` (`[b, _n_ids]` bool, True = excluded) marks: `(scores [b, m], indices [b, m])`
        with `m <= k`, best first, places it could not fill as `-inf` / `-1`."""

    def to(self, device: torch.device) -> Index:
        """This index with its vectors on `device`, where queries are then scored and results
        returned. Kinds that search on the CPU alone (faiss's) stay there: queries come to them."""
        return self

    @abc.abstractmethod
    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """`(tensors, config)`: tensors for safetensors (never the movie vectors), a JSON-able
        config with `"kind"`."""

    @classmethod
    @abc.abstractmethod
    def from_state(
        cls, tensors: dict[str, Tensor], config: dict[str, Any], *, vectors: Tensor
    ) -> Index:
        """Rebuild an index saved with `state()`; `vectors` are the model's `[n, dim]` movie
        vectors, the ones it was built from."""


# --- Exclusions ----------------------------------------------------------------------------------


class _ExclusionMasks:
    """Per-batch bool masks `[batch, n_ids]` from per-query arrays of movie indices.

    `n_ids` is one more than the largest movie index in the index. Larger movie indices (in
    exclusions for an index over part of the catalogue, say) are dropped: those movies cannot be
    returned anyway.
    """

    def __init__(
        self, exclude: Exclusions, n_queries: int, n_ids: int, device: torch.device
    ) -> None:
        if not isinstance(exclude, Sequence) or isinstance(exclude, str | bytes):
            raise ValueError(
                "exclude must be a list with one 1-D array of movie indices per query, "
                f"got {type(exclude).__name__}"
            )
        if len(exclude) != n_queries:
            raise ValueError(
                f"exclude must have one entry per query: got {len(exclude)} for {n_queries} queries"
            )
        parts = [_movie_indices(values, row) for row, values in enumerate(exclude)]
        flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        if flat.size and int(flat.min()) < 0:
            raise ValueError(f"excluded movie indices must be non-negative, got {int(flat.min())}")
        rows = np.repeat(np.arange(n_queries), [len(p) for p in parts])
        inside = flat < n_ids
        counts = np.bincount(rows[inside], minlength=n_queries)
        self.indptr = torch.from_numpy(np.concatenate([[0], np.cumsum(counts)])).to(device)
        self.indices = torch.from_numpy(flat[inside]).to(device)
        self.n_ids = n_ids
        self.device = device

    def batch(self, start: int, stop: int) -> Tensor:
        """`[stop - start, n_ids]` bool mask of the queries `start:stop`."""
        mask = torch.zeros(stop - start, self.n_ids, dtype=torch.bool, device=self.device)
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        rows = torch.repeat_interleave(
            torch.arange(stop - start, device=self.device),
            self.indptr[start + 1 : stop + 1] - self.indptr[start:stop],
        )
        mask[rows, self.indices[lo:hi]] = True
        return mask


def _movie_indices(values: Tensor | np.ndarray | Sequence[int], row: int) -> np.ndarray:
    """One query's exclusions as a `[m]` int64 array, or a ValueError that names the query."""
    array = values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            f"exclude[{row}] must be a 1-D array of movie indices, got shape {array.shape}"
        )
    if array.size == 0:  # `[]` reads as float64; an empty list excludes nothing either way
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise ValueError(f"exclude[{row}] must hold integer movie indices, got {array.dtype}")
    return array.astype(np.int64, copy=False)


# --- Shared checks --------------------------------------------------------------------------------


def check_vectors(vectors: Tensor, ids: Tensor | None) -> tuple[Tensor, Tensor]:
    """Validated `[n, dim]` float vectors (a detached copy) and `[n]` int64 ids."""
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise ValueError(f"vectors must be a non-empty [n, dim] tensor, got {tuple(vectors.shape)}")
    if not vectors.is_floating_point():
        raise ValueError(f"vectors must be floating point, got {vectors.dtype}")
    # A copy, so training the model further does not change a built index.
    vectors = vectors.detach().clone().contiguous()
    if ids is None:
        return vectors, torch.arange(vectors.shape[0], device=vectors.device)
    if ids.ndim != 1 or ids.shape[0] != vectors.shape[0]:
        raise ValueError(
            f"ids must be [n={vectors.shape[0]}] movie indices, one per vector row, "
            f"got {tuple(ids.shape)}"
        )
    if ids.is_floating_point() or ids.dtype == torch.bool:
        raise ValueError(f"ids must be integers, got {ids.dtype}")
    ids = ids.detach().to(device=vectors.device, dtype=torch.long).clone()
    if int(ids.min()) < 0:
        raise ValueError("ids must be non-negative movie indices")
    if torch.unique(ids).numel() != ids.numel():
        raise ValueError("ids must be unique")
    return vectors, ids


def check_search(queries: Tensor, k: int, dim: int, batch_size: int) -> None:
    """Raise a ValueError for a bad `k`, `batch_size` or query shape."""
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise ValueError(
            f"queries must have shape [q, dim={dim}] (the index's vector dimension), got "
            f"{tuple(queries.shape)}"
        )


def check_state(
    kind: str,
    tensors: dict[str, Tensor],
    config: dict[str, Any],
    *,
    required: set[str],
    optional: set[str],
) -> None:
    """Raise a ValueError unless `config` is for `kind` and `tensors` has exactly the names
    `required` plus any of `optional`."""
    if config.get("kind") != kind:
        raise ValueError(f"index config is for kind {config.get('kind')!r}, not {kind!r}")
    missing = required - set(tensors)
    unexpected = set(tensors) - required - optional
    if missing or unexpected:
        raise ValueError(
            f"saved {kind} index: missing tensors {sorted(missing)}, "
            f"unexpected {sorted(unexpected)}"
        )


def _pad_columns(scores: Tensor, indices: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Right-pad `[q, m]` results to `[q, k]` with -inf / -1."""
    missing = k - scores.shape[1]
    if missing <= 0:
        return scores, indices
    q = scores.shape[0]
    pad_scores = scores.new_full((q, missing), float("-inf"))
    pad_indices = indices.new_full((q, missing), -1)
    return torch.cat([scores, pad_scores], dim=1), torch.cat([indices, pad_indices], dim=1)
