"""Top-k search over movie vectors: exact brute force by default, HNSW (faiss) as an option.

An index is built from item vectors `[n, dim]` (usually a retrieval model's
`all_movie_embeddings()`, row = movie index) and answers `search(queries [q, dim], k)` with the k
largest inner products per query, as `(scores [q, k], indices [q, k])`, best first.

Conventions shared by every index:

- Returned indices are movie indices: the row number, or `ids[row]` when the index was built with
  `ids`. Movie index 0 (unknown/padding) is never returned.
- Exclusions (e.g. movies the user has seen) are built in; see `Exclusions`. They are given in movie
  indices too.
- The result always has `k` columns. Where fewer than `k` movies are left (k larger than the
  catalogue, or most of it excluded), the missing places are filled with index `-1` and score
  `-inf`, at the end of the row.
- Saving: `state()` gives `(tensors, config)`, a flat `dict[str, Tensor]` for safetensors and a
  small JSON-able dict that includes `"kind"`; `index_from_state(tensors, config)` rebuilds
  either kind.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "BruteForceIndex",
    "ExcludeCSR",
    "Exclusions",
    "FaissIndex",
    "Index",
    "index_from_state",
    "recall_against",
]

DEFAULT_BATCH_SIZE = 1024


class _CSRLike(Protocol):
    indptr: Any
    indices: Any


class ExcludeCSR(NamedTuple):
    """Per-query exclusions in compressed sparse row form: query `i` excludes the movie indices
    `indices[indptr[i]:indptr[i + 1]]`. `indptr` is `[q + 1]`, `indices` is `[nnz]`.

    Any object with `indptr` and `indices` attributes is read the same way (e.g. a scipy CSR
    matrix of shape `[q, n]`).
    """

    indptr: Tensor | np.ndarray
    indices: Tensor | np.ndarray


# What `search(..., exclude=...)` accepts:
#   - a sequence of q per-query 1-D arrays / tensors / lists of movie indices,
#   - an `ExcludeCSR` (or anything with `indptr` and `indices`),
#   - a bool mask `[q, n_ids]` (Tensor or ndarray), True = excluded, columns = movie indices.
Exclusions = Sequence[Any] | ExcludeCSR | _CSRLike | Tensor | np.ndarray


class Index(abc.ABC):
    """Top-k inner-product search over movie vectors; see the module docstring for conventions."""

    kind: str
    ids: Tensor  # [n] int64: the movie index of each row

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """The vector dimension."""

    @property
    def n_items(self) -> int:
        """Number of rows (vectors) the index was built from, padding included."""
        return int(self.ids.shape[0])

    @abc.abstractmethod
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
            exclude: movies never to return, per query (see `Exclusions`).
            batch_size: queries scored at once; memory grows with `batch_size * n_items`.

        Returns:
            `scores [q, k]` float and `indices [q, k]` int64 movie indices, best first; missing
            places (fewer than k movies left) are `-inf` / `-1`.
        """

    @abc.abstractmethod
    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """`(tensors, config)`: tensors for safetensors, a JSON-able config with `"kind"`."""

    @classmethod
    @abc.abstractmethod
    def from_state(cls, tensors: dict[str, Tensor], config: dict[str, Any]) -> Index:
        """Rebuild an index saved with `state()`."""


# --- Exclusions ----------------------------------------------------------------------------------


class _ExclusionMasks:
    """Per-batch bool masks `[batch, n_ids]` from any accepted form of exclusions.

    `n_ids` is one more than the largest movie index in the index. Larger movie indices (in
    exclusions for an index over part of the catalogue, say) are dropped: those movies cannot be
    returned anyway. Mask columns beyond `n_ids` are dropped for the same reason.
    """

    def __init__(
        self,
        exclude: Exclusions,
        n_queries: int,
        n_ids: int,
        device: torch.device,
    ) -> None:
        self.n_ids = n_ids
        self.device = device
        self.mask: Tensor | None = None
        self.indptr: Tensor | None = None
        self.indices: Tensor | None = None
        if isinstance(exclude, Tensor | np.ndarray) and exclude.ndim == 2:
            mask = torch.as_tensor(exclude, device=device)
            if mask.dtype != torch.bool:
                raise ValueError(f"an exclusion mask must be bool, got {mask.dtype}")
            if mask.shape[0] != n_queries or mask.shape[1] < n_ids:
                raise ValueError(
                    f"exclusion mask must have shape [queries={n_queries}, n_ids>={n_ids}] "
                    f"(columns are movie indices), got {tuple(mask.shape)}"
                )
            self.mask = mask[:, :n_ids]
            return
        if hasattr(exclude, "indptr") and hasattr(exclude, "indices"):
            indptr = _as_long(exclude.indptr, device)
            indices = _as_long(exclude.indices, device)
        elif isinstance(exclude, Sequence) and not isinstance(exclude, str | bytes):
            if len(exclude) != n_queries:
                raise ValueError(
                    f"exclude must have one entry per query: got {len(exclude)} for "
                    f"{n_queries} queries"
                )
            parts = [np.asarray(e, dtype=np.int64).reshape(-1) for e in exclude]
            lengths = np.array([len(p) for p in parts], dtype=np.int64)
            indptr = _as_long(np.concatenate([[0], np.cumsum(lengths)]), device)
            flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            indices = _as_long(flat, device)
        else:
            raise ValueError(
                "exclude must be a sequence of per-query index arrays, an ExcludeCSR "
                f"(indptr, indices) or a bool mask [queries, n_ids]; got {type(exclude).__name__}"
            )
        if indptr.ndim != 1 or indptr.numel() != n_queries + 1:
            raise ValueError(
                f"exclusion indptr must have {n_queries + 1} entries (queries + 1), "
                f"got shape {tuple(indptr.shape)}"
            )
        if int(indptr[0]) != 0 or int(indptr[-1]) != indices.numel():
            raise ValueError("exclusion indptr must start at 0 and end at len(indices)")
        if bool((indptr[1:] < indptr[:-1]).any()):
            raise ValueError("exclusion indptr must be non-decreasing")
        if indices.numel() and int(indices.min()) < 0:
            raise ValueError("excluded movie indices must be non-negative")
        if indices.numel() and int(indices.max()) >= n_ids:
            rows = torch.repeat_interleave(
                torch.arange(n_queries, device=device), indptr[1:] - indptr[:-1]
            )
            inside = indices < n_ids
            counts = torch.bincount(rows[inside], minlength=n_queries)
            indptr = torch.cat([indptr.new_zeros(1), counts.cumsum(0)])
            indices = indices[inside]
        self.indptr, self.indices = indptr, indices

    def batch(self, start: int, stop: int) -> Tensor:
        """`[stop - start, n_ids]` bool mask of the queries `start:stop`."""
        if self.mask is not None:
            return self.mask[start:stop]
        assert self.indptr is not None and self.indices is not None
        mask = torch.zeros(stop - start, self.n_ids, dtype=torch.bool, device=self.device)
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        rows = torch.repeat_interleave(
            torch.arange(stop - start, device=self.device),
            self.indptr[start + 1 : stop + 1] - self.indptr[start:stop],
        )
        mask[rows, self.indices[lo:hi]] = True
        return mask


def _as_long(values: Any, device: torch.device) -> Tensor:
    tensor = torch.as_tensor(np.asarray(values) if not isinstance(values, Tensor) else values)
    if tensor.is_floating_point() or tensor.dtype == torch.bool:
        raise ValueError(f"exclusion indices must be integers, got {tensor.dtype}")
    return tensor.to(device=device, dtype=torch.long).reshape(-1)


# --- Shared checks --------------------------------------------------------------------------------


def _check_vectors(vectors: Tensor, ids: Tensor | None) -> tuple[Tensor, Tensor]:
    """Validated `[n, dim]` float vectors (detached copy) and `[n]` int64 ids."""
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


def _check_search(queries: Tensor, k: int, dim: int, batch_size: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise ValueError(
            f"queries must have shape [q, dim={dim}] (the index's vector dimension), got "
            f"{tuple(queries.shape)}"
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


# --- Brute force ----------------------------------------------------------------------------------


class BruteForceIndex(Index):
    """Exact top-k by a matrix product and `torch.topk`, batched over queries.

    Args:
        vectors: `[n, dim]` item vectors (copied). Results and scores are on their device; queries
            are moved there.
        ids: optional `[n]` unique movie indices of the rows (default: row number). Rows whose movie
            index is 0 are never returned.
    """

    kind = "brute_force"

    def __init__(self, vectors: Tensor, ids: Tensor | None = None) -> None:
        self.vectors, self.ids = _check_vectors(vectors, ids)
        self._explicit_ids = ids is not None
        self._n_ids = int(self.ids.max()) + 1
        self._padding = self.ids == 0  # [n] rows never to return

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def search(
        self,
        queries: Tensor,
        k: int,
        *,
        exclude: Exclusions | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> tuple[Tensor, Tensor]:
        _check_search(queries, k, self.dim, batch_size)
        device = self.vectors.device
        queries = queries.detach().to(device=device, dtype=self.vectors.dtype)
        masks = (
            None if exclude is None else _ExclusionMasks(exclude, len(queries), self._n_ids, device)
        )
        take = min(k, self.n_items)
        all_scores, all_indices = [], []
        for start in range(0, len(queries), batch_size):
            stop = min(start + batch_size, len(queries))
            scores = queries[start:stop] @ self.vectors.T  # [batch, n]
            drop = self._padding.unsqueeze(0)
            if masks is not None:
                drop = drop | masks.batch(start, stop)[:, self.ids]
            scores = scores.masked_fill(drop, float("-inf"))
            top_scores, top_rows = torch.topk(scores, take, dim=1)
            top_ids = self.ids[top_rows]
            all_scores.append(top_scores)
            all_indices.append(top_ids.masked_fill(top_scores == float("-inf"), -1))
        if not all_scores:  # no queries
            empty = torch.empty(0, k, device=device)
            return empty.to(self.vectors.dtype), empty.to(torch.long)
        return _pad_columns(torch.cat(all_scores), torch.cat(all_indices), k)

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors = {"vectors": self.vectors.cpu().contiguous()}
        if self._explicit_ids:
            tensors["ids"] = self.ids.cpu().contiguous()
        return tensors, {"kind": self.kind}

    @classmethod
    def from_state(cls, tensors: dict[str, Tensor], config: dict[str, Any]) -> BruteForceIndex:
        _check_state(cls.kind, tensors, config, required={"vectors"}, optional={"ids"})
        return cls(tensors["vectors"], tensors.get("ids"))


# --- Faiss HNSW -----------------------------------------------------------------------------------


def _import_faiss() -> Any:
    try:
        return importlib.import_module("faiss")
    except ImportError as err:
        raise ImportError(
            "FaissIndex needs faiss, which is not installed; install it with "
            "pip install 'reelrank[ann]'"
        ) from err


class FaissIndex(Index):
    """Approximate top-k with faiss' HNSW graph (inner-product metric), on the CPU.

    Exclusions are applied after the search: it fetches `k + (most exclusions of any query in the
    batch)` candidates and drops the excluded ones, so the result is as good as an unfiltered
    search of that size. The padding movie 0 is not put into the graph at all.

    Args:
        vectors: `[n, dim]` item vectors (converted to float32 on the CPU).
        ids: optional `[n]` unique movie indices of the rows (default: row number).
        m: HNSW neighbours per node (faiss' `M`).
        ef_construction: candidate list size while building.
        ef_search: candidate list size while searching (raised to the fetch size when smaller).

    Saving: `state()` stores the graph itself, `faiss.serialize_index` bytes as a uint8 tensor, so
    a loaded index answers exactly as the saved one (no rebuild, no pickle).
    """

    kind = "faiss_hnsw"

    def __init__(
        self,
        vectors: Tensor,
        ids: Tensor | None = None,
        *,
        m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 128,
    ) -> None:
        if m <= 0 or ef_construction <= 0 or ef_search <= 0:
            raise ValueError(
                f"m, ef_construction and ef_search must be positive, got {m}, "
                f"{ef_construction}, {ef_search}"
            )
        faiss = _import_faiss()
        vectors, self.ids = _check_vectors(
            vectors.detach().cpu().float(), None if ids is None else ids.cpu()
        )
        ids = self.ids
        self.m, self.ef_construction, self.ef_search = m, ef_construction, ef_search
        self._dim = int(vectors.shape[1])
        self._n_ids = int(ids.max()) + 1
        keep = ids != 0
        # Graph position -> movie index: only real movies go into the graph.
        self._graph_ids = ids[keep]
        self._faiss_index = faiss.IndexHNSWFlat(self._dim, m, faiss.METRIC_INNER_PRODUCT)
        self._faiss_index.hnsw.efConstruction = ef_construction
        if self._graph_ids.numel():
            self._faiss_index.add(np.ascontiguousarray(vectors[keep].numpy(), dtype=np.float32))

    @property
    def dim(self) -> int:
        return self._dim

    def search(
        self,
        queries: Tensor,
        k: int,
        *,
        exclude: Exclusions | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> tuple[Tensor, Tensor]:
        _check_search(queries, k, self.dim, batch_size)
        faiss = _import_faiss()
        cpu = torch.device("cpu")
        queries = queries.detach().to(device=cpu, dtype=torch.float32)
        masks = (
            None if exclude is None else _ExclusionMasks(exclude, len(queries), self._n_ids, cpu)
        )
        n_graph = int(self._graph_ids.numel())
        all_scores, all_indices = [], []
        for start in range(0, len(queries), batch_size):
            stop = min(start + batch_size, len(queries))
            batch_mask = None if masks is None else masks.batch(start, stop)
            extra = 0 if batch_mask is None else int(batch_mask.sum(dim=1).max())
            fetch = min(k + extra, n_graph)
            if fetch == 0:
                all_scores.append(torch.full((stop - start, 0), float("-inf")))
                all_indices.append(torch.full((stop - start, 0), -1, dtype=torch.long))
                continue
            # Per-call parameters, not the index's efSearch: concurrent searches stay independent.
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, fetch))
            raw_scores, positions = self._faiss_index.search(
                np.ascontiguousarray(queries[start:stop].numpy()), fetch, params=params
            )
            scores = torch.from_numpy(raw_scores)
            positions_t = torch.from_numpy(positions).long()
            found = positions_t >= 0  # faiss marks places it could not fill with -1
            ids = torch.where(found, self._graph_ids[positions_t.clamp(min=0)], -1)
            valid = found
            if batch_mask is not None:
                excluded = torch.gather(batch_mask, 1, ids.clamp(min=0))
                valid = valid & ~excluded
            # Stable sort of the invalid places to the back keeps the valid ones in score order.
            order = torch.argsort((~valid).to(torch.int8), dim=1, stable=True)[:, :k]
            scores = torch.gather(scores, 1, order)
            ids = torch.gather(ids, 1, order)
            keep = torch.gather(valid, 1, order)
            all_scores.append(scores.masked_fill(~keep, float("-inf")))
            all_indices.append(ids.masked_fill(~keep, -1))
        if not all_scores:
            return torch.empty(0, k), torch.empty(0, k, dtype=torch.long)
        return _pad_columns(torch.cat(all_scores), torch.cat(all_indices), k)

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        faiss = _import_faiss()
        graph = faiss.serialize_index(self._faiss_index)  # numpy uint8
        tensors = {
            "faiss_index": torch.from_numpy(np.array(graph, dtype=np.uint8)),
            "ids": self.ids.contiguous(),
        }
        config = {
            "kind": self.kind,
            "m": self.m,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "dim": self.dim,
        }
        return tensors, config

    @classmethod
    def from_state(cls, tensors: dict[str, Tensor], config: dict[str, Any]) -> FaissIndex:
        _check_state(cls.kind, tensors, config, required={"faiss_index", "ids"}, optional=set())
        faiss = _import_faiss()
        ids = tensors["ids"].to(torch.long)
        graph = faiss.deserialize_index(tensors["faiss_index"].numpy())
        keep = ids != 0
        if graph.ntotal != int(keep.sum()) or graph.d != int(config["dim"]):
            raise ValueError(
                f"saved faiss index holds {graph.ntotal} vectors of dim {graph.d}, but the ids "
                f"name {int(keep.sum())} movies and the config dim {config['dim']}"
            )
        index = cls.__new__(cls)
        index.ids = ids
        index.m = int(config["m"])
        index.ef_construction = int(config["ef_construction"])
        index.ef_search = int(config["ef_search"])
        index._dim = int(graph.d)
        index._n_ids = int(ids.max()) + 1
        index._graph_ids = ids[keep]
        index._faiss_index = graph
        return index


def _check_state(
    kind: str,
    tensors: dict[str, Tensor],
    config: dict[str, Any],
    *,
    required: set[str],
    optional: set[str],
) -> None:
    if config.get("kind") != kind:
        raise ValueError(f"index config is for kind {config.get('kind')!r}, not {kind!r}")
    missing = required - set(tensors)
    unexpected = set(tensors) - required - optional
    if missing or unexpected:
        raise ValueError(
            f"saved {kind} index: missing tensors {sorted(missing)}, "
            f"unexpected {sorted(unexpected)}"
        )


_INDEX_KINDS: dict[str, type[Index]] = {
    BruteForceIndex.kind: BruteForceIndex,
    FaissIndex.kind: FaissIndex,
}


def index_from_state(tensors: dict[str, Tensor], config: dict[str, Any]) -> Index:
    """Rebuild any index from its `state()`, dispatching on `config["kind"]`."""
    kind = config.get("kind")
    if kind not in _INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; expected one of {sorted(_INDEX_KINDS)}")
    return _INDEX_KINDS[kind].from_state(tensors, config)


def recall_against(
    exact: Index,
    approx: Index,
    queries: Tensor,
    k: int,
    *,
    exclude: Exclusions | None = None,
) -> float:
    """Mean fraction of the exact top-k that the approximate index also returns, over `[q, dim]`
    queries (places the exact index leaves empty are not counted). 1.0 means no loss."""
    _, truth = exact.search(queries, k, exclude=exclude)
    _, found = approx.search(queries, k, exclude=exclude)
    truth, found = truth.cpu(), found.cpu()
    hits = ((truth.unsqueeze(2) == found.unsqueeze(1)) & (truth >= 0).unsqueeze(2)).any(dim=2)
    relevant = (truth >= 0).sum()
    if int(relevant) == 0:
        return 1.0
    return float(hits.sum()) / float(relevant)
