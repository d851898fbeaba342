"""Top-k search over movie vectors: exact brute force by default, HNSW (faiss) as an option.

- `base`: the `Index` interface, the shared search loop (batching, exclusions, -1/-inf padding);
- `exact`: `BruteForceIndex`, exact top-k by a matrix product;
- `hnsw`: `FaissIndex`, approximate top-k with faiss' HNSW graph (faiss is an optional extra).

`build_index(vectors, kind)` builds either kind; `index_from_state(tensors, config, vectors=...)`
rebuilds one from its `state()`.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from reelrank.index.base import DEFAULT_BATCH_SIZE, Exclusions, Index
from reelrank.index.exact import BruteForceIndex
from reelrank.index.hnsw import FaissIndex

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "BruteForceIndex",
    "Exclusions",
    "FaissIndex",
    "Index",
    "build_index",
    "index_from_state",
]

_INDEX_KINDS: dict[str, type[Index]] = {
    BruteForceIndex.kind: BruteForceIndex,
    FaissIndex.kind: FaissIndex,
}


def build_index(vectors: Tensor, kind: str) -> Index:
    """An index of `kind` ("brute_force", exact, or "hnsw", approximate) over `[n, dim]` vectors."""
    if kind == "brute_force":
        return BruteForceIndex(vectors)
    if kind == "hnsw":
        return FaissIndex(vectors)
    raise ValueError(f"unknown index {kind!r}; choose 'brute_force' or 'hnsw'")


def index_from_state(
    tensors: dict[str, Tensor], config: dict[str, Any], *, vectors: Tensor
) -> Index:
    """Rebuild any index from its `state()`, dispatching on `config["kind"]`.

    `vectors` are the `[n, dim]` movie vectors the index was built from, i.e. the loaded retrieval
    model's `all_movie_embeddings()`: an artifact stores them once, as the model's weights.
    """
    kind = config.get("kind")
    if kind not in _INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; expected one of {sorted(_INDEX_KINDS)}")
    return _INDEX_KINDS[kind].from_state(tensors, config, vectors=vectors)
