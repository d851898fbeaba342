"""Top-k search over movie vectors: exact brute force by default, HNSW (faiss) as an option.

- `base`: the `Index` interface, the shared search loop (batching, exclusions, -1/-inf padding);
- `exact`: `BruteForceIndex`, exact top-k by a matrix product;
- `hnsw`: `FaissIndex`, approximate top-k with faiss' HNSW graph (faiss is an optional extra).

`build_index(vectors, kind)` builds either kind; `index_from_state(tensors, config, vectors=...)`
rebuilds one from its `state()`.
"""

from __future__ import annotations

import importlib.util
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


# "auto" is exact up to this many movies and an HNSW graph beyond (when faiss is installed): at
# MovieLens 25M's 56k movies x 256 dimensions an exact search reads 57 MB per query (17 ms here),
# the graph answers in about 4 ms.
AUTO_HNSW_MOVIES = 20_000


def build_index(vectors: Tensor, kind: str) -> Index:
    """An index of `kind` ("brute_force", exact; "hnsw", approximate; or "auto", exact up to
    `AUTO_HNSW_MOVIES` rows and HNSW beyond where faiss is installed) over `[n, dim]` vectors."""
    if kind == "auto":
        kind = "hnsw" if len(vectors) > AUTO_HNSW_MOVIES and _has_faiss() else "brute_force"
    if kind == "brute_force":
        return BruteForceIndex(vectors)
    if kind == "hnsw":
        return FaissIndex(vectors)
    raise ValueError(f"unknown index {kind!r}; choose 'auto', 'brute_force' or 'hnsw'")


def _has_faiss() -> bool:
    return importlib.util.find_spec("faiss") is not None


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
