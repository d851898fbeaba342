"""`BruteForceIndex`: exact top-k by a matrix product and `torch.topk`, the default index."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from reelrank.index.base import Index, check_state, check_vectors

__all__ = ["BruteForceIndex"]


class BruteForceIndex(Index):
    """Exact top-k by a matrix product and `torch.topk`, batched over queries.

    Args:
        vectors: `[n, dim]` item vectors (copied, so further training does not change the index).
            Results and scores are on their device; queries are moved there.
        ids: optional `[n]` unique movie indices of the rows (default: row number). Rows whose movie
            index is 0 are never returned.

    Saving: `state()` holds only the `ids` given (if any), never the vectors: they are the
    retrieval model's `all_movie_embeddings()`, which an artifact stores as the model's weights.
    """

    kind = "brute_force"

    def __init__(self, vectors: Tensor, ids: Tensor | None = None) -> None:
        self.vectors, self.ids = check_vectors(vectors, ids)
        self._explicit_ids = ids is not None
        self._n_ids = int(self.ids.max()) + 1
        self._device, self._dtype = self.vectors.device, self.vectors.dtype
        self._padding = self.ids == 0  # [n] rows never to return

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def _search_batch(
        self, queries: Tensor, k: int, excluded: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        scores = queries @ self.vectors.T  # [batch, n]
        drop = self._padding.unsqueeze(0)
        if excluded is not None:
            drop = drop | excluded[:, self.ids]
        scores = scores.masked_fill(drop, float("-inf"))
        top_scores, top_rows = torch.topk(scores, min(k, self.n_items), dim=1)
        return top_scores, self.ids[top_rows].masked_fill(top_scores == float("-inf"), -1)

    def to(self, device: torch.device) -> BruteForceIndex:
        if torch.device(device) == self._device:
            return self
        ids = self.ids.to(device) if self._explicit_ids else None
        return BruteForceIndex(self.vectors.to(device), ids)

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors = {"ids": self.ids.cpu().contiguous()} if self._explicit_ids else {}
        return tensors, {"kind": self.kind}

    @classmethod
    def from_state(
        cls, tensors: dict[str, Tensor], config: dict[str, Any], *, vectors: Tensor
    ) -> BruteForceIndex:
        check_state(cls.kind, tensors, config, required=set(), optional={"ids"})
        return cls(vectors, tensors.get("ids"))
