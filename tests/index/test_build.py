"""`build_index("auto")`: exact for a small catalogue, an HNSW graph for a large one."""

from __future__ import annotations

import pytest
import torch

import reelrank.index as index_module
from reelrank.index import BruteForceIndex, FaissIndex, build_index


def test_auto_is_exact_for_a_small_catalogue() -> None:
    assert isinstance(build_index(torch.randn(50, 4), "auto"), BruteForceIndex)


def test_auto_takes_a_graph_past_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("faiss")
    monkeypatch.setattr(index_module, "AUTO_HNSW_MOVIES", 40)
    assert isinstance(build_index(torch.randn(50, 4), "auto"), FaissIndex)
    assert isinstance(build_index(torch.randn(30, 4), "auto"), BruteForceIndex)
    with pytest.raises(ValueError, match="'auto', 'brute_force' or 'hnsw'"):
        build_index(torch.randn(30, 4), "annoy")
