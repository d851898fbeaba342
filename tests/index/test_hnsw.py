"""FaissIndex (reelrank.index.hnsw): recall against the exact index, its saved graph, and the
install hint when faiss is missing."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import Tensor

from reelrank.index import BruteForceIndex, FaissIndex, index_from_state


def _data(n: int, q: int, d: int, seed: int = 1) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(q, d, generator=g)


def test_recall_against_the_exact_index_is_high() -> None:
    pytest.importorskip("faiss", reason="faiss is not installed (pip install 'reelrank[ann]')")
    vectors, queries = _data(n=1000, q=32, d=16)
    _, truth = BruteForceIndex(vectors).search(queries, 10)
    _, found = FaissIndex(vectors, m=16, ef_construction=100, ef_search=64).search(queries, 10)
    hits = (truth.unsqueeze(2) == found.unsqueeze(1)).any(dim=2)
    assert float(hits.float().mean()) >= 0.9


def test_state_is_the_graph_and_needs_vectors_of_its_dim() -> None:
    pytest.importorskip("faiss", reason="faiss is not installed (pip install 'reelrank[ann]')")
    vectors, _ = _data(n=40, q=1, d=8)
    tensors, config = FaissIndex(vectors).state()
    assert set(tensors) == {"faiss_index", "ids"} and tensors["faiss_index"].dtype == torch.uint8
    assert config["kind"] == "faiss_hnsw" and config["dim"] == 8
    with pytest.raises(ValueError, match=r"built for \[n, dim=8\]"):
        index_from_state(tensors, config, vectors=torch.zeros(40, 4))


def test_faiss_missing_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import faiss` raise ImportError, installed or not.
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match=r"pip install 'reelrank\[ann\]'"):
        FaissIndex(torch.randn(3, 2))


def test_a_heavy_user_does_not_change_the_others_results() -> None:
    """Queries are searched in groups by how many movies they exclude; a batch mixing a user
    who excludes most of the catalogue with light ones answers each as it would alone."""
    pytest.importorskip("faiss", reason="faiss is not installed (pip install 'reelrank[ann]')")
    vectors, queries = _data(n=600, q=6, d=8)
    index = FaissIndex(vectors, m=16, ef_construction=100, ef_search=64)
    exclude = [list(range(1, 500)), [], [3], list(range(1, 40)), [7, 8], list(range(100, 300))]
    scores, found = index.search(queries, 10, exclude=exclude)
    for row, movies in enumerate(exclude):
        alone_scores, alone = index.search(queries[row : row + 1], 10, exclude=[movies])
        assert torch.equal(found[row], alone[0]) and torch.equal(scores[row], alone_scores[0])
        assert not set(found[row].tolist()) & set(movies)
