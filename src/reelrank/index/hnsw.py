"""`FaissIndex`: approximate top-k with faiss' HNSW graph, an optional extra.

faiss is imported when an index is built, searched or saved, never at import time, so the rest of
reelrank works without it. (The module is not called `faiss.py` so that no reader, tool or
`sys.path` entry can take it for the faiss package itself.)
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import torch
from torch import Tensor

from reelrank.index.base import Index, check_state, check_vectors

__all__ = ["FaissIndex"]


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
    a loaded index answers exactly as the saved one (no rebuild, no pickle). The graph is a built
    structure, not a copy of the model's weights.
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
        vectors, ids = check_vectors(
            vectors.detach().cpu().float(), None if ids is None else ids.cpu()
        )
        keep = ids != 0  # only real movies go into the graph
        graph = faiss.IndexHNSWFlat(int(vectors.shape[1]), m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = ef_construction
        if bool(keep.any()):
            graph.add(np.ascontiguousarray(vectors[keep].numpy(), dtype=np.float32))
        self._attach(graph, ids, m=m, ef_construction=ef_construction, ef_search=ef_search)

    def _attach(
        self, graph: Any, ids: Tensor, *, m: int, ef_construction: int, ef_search: int
    ) -> None:
        """Take `graph` (over the rows of `ids` other than 0, in order) as this index's."""
        self.ids = ids
        self.m, self.ef_construction, self.ef_search = m, ef_construction, ef_search
        self._dim = int(graph.d)
        self._n_ids = int(ids.max()) + 1
        self._device, self._dtype = torch.device("cpu"), torch.float32
        self._graph_ids = ids[ids != 0]  # graph position -> movie index
        self._faiss_index = graph

    @property
    def dim(self) -> int:
        return self._dim

    def _search_batch(
        self, queries: Tensor, k: int, excluded: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        if excluded is None:
            return self._search_group(queries, k, None, 0)
        # The graph returns the top `fetch` of each query, the excluded ones among them, so each
        # query needs k + its exclusions. One fetch for a whole batch would make every query pay
        # for its heaviest user (thousands of rated movies at 25M): queries are grouped by the
        # power of two above their count instead.
        counts = excluded.sum(dim=1)
        groups = torch.ceil(torch.log2(counts.double() + 1)).long()
        width = min(k, int(self._graph_ids.numel()))
        scores = torch.full((len(queries), width), float("-inf"))
        ids = torch.full((len(queries), width), -1, dtype=torch.long)
        for group in torch.unique(groups):
            rows = torch.nonzero(groups == group).squeeze(1)
            extra = int(counts[rows].max())
            scores[rows], ids[rows] = self._search_group(queries[rows], k, excluded[rows], extra)
        return scores, ids

    def _search_group(
        self, queries: Tensor, k: int, excluded: Tensor | None, extra: int
    ) -> tuple[Tensor, Tensor]:
        """The top k of `queries` without their `excluded` movies, at most `extra` each."""
        fetch = min(k + extra, int(self._graph_ids.numel()))
        if fetch == 0:
            return torch.empty(len(queries), 0), torch.empty(len(queries), 0, dtype=torch.long)
        faiss = _import_faiss()
        # Per-call parameters, not the index's efSearch: concurrent searches stay independent.
        params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, fetch))
        raw_scores, positions = self._faiss_index.search(
            np.ascontiguousarray(queries.numpy()), fetch, params=params
        )
        scores = torch.from_numpy(raw_scores)
        positions_t = torch.from_numpy(positions).long()
        valid = positions_t >= 0  # faiss marks places it could not fill with -1
        ids = torch.where(valid, self._graph_ids[positions_t.clamp(min=0)], -1)
        if excluded is not None:
            valid = valid & ~torch.gather(excluded, 1, ids.clamp(min=0))
        # Stable sort of the invalid places to the back keeps the valid ones in score order.
        order = torch.argsort((~valid).to(torch.int8), dim=1, stable=True)[:, :k]
        keep = torch.gather(valid, 1, order)
        scores = torch.gather(scores, 1, order).masked_fill(~keep, float("-inf"))
        return scores, torch.gather(ids, 1, order).masked_fill(~keep, -1)

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
    def from_state(
        cls, tensors: dict[str, Tensor], config: dict[str, Any], *, vectors: Tensor
    ) -> FaissIndex:
        """Rebuild from the saved graph; `vectors` only has to match its dimension (the graph
        holds its own float32 copy of them)."""
        check_state(cls.kind, tensors, config, required={"faiss_index", "ids"}, optional=set())
        if vectors.ndim != 2 or vectors.shape[1] != int(config["dim"]):
            raise ValueError(
                f"the model's movie vectors have shape {tuple(vectors.shape)}, but the saved "
                f"faiss index was built for [n, dim={config['dim']}]"
            )
        faiss = _import_faiss()
        ids = tensors["ids"].to(torch.long)
        graph = faiss.deserialize_index(tensors["faiss_index"].numpy())
        n_movies = int((ids != 0).sum())
        if graph.ntotal != n_movies or graph.d != int(config["dim"]):
            raise ValueError(
                f"saved faiss index holds {graph.ntotal} vectors of dim {graph.d}, but the ids "
                f"name {n_movies} movies and the config dim {config['dim']}"
            )
        index = cls.__new__(cls)
        index._attach(
            graph,
            ids,
            m=int(config["m"]),
            ef_construction=int(config["ef_construction"]),
            ef_search=int(config["ef_search"]),
        )
        return index
