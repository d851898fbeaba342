"""Top-k indexes: exactness, exclusions, the padding row, short results, ANN recall, save/load."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from reelrank.index import (
    BruteForceIndex,
    ExcludeCSR,
    FaissIndex,
    Index,
    index_from_state,
    recall_against,
)

try:
    import faiss  # noqa: F401

    HAVE_FAISS = True
except ImportError:
    HAVE_FAISS = False

needs_faiss = pytest.mark.skipif(
    not HAVE_FAISS, reason="faiss is not installed (pip install 'reelrank[ann]')"
)


def _data(n: int = 50, d: int = 8, q: int = 7, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(q, d, generator=g)


def _numpy_top_k(
    vectors: Tensor, queries: Tensor, k: int, excluded: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The reference: full scores, padding row 0 and exclusions removed, sorted by numpy."""
    scores = queries.double().numpy() @ vectors.double().numpy().T
    scores[:, 0] = -np.inf
    if excluded is not None:
        scores[excluded] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), order


def _save_load(index: Index, tmp_path: Path) -> Index:
    tensors, config = index.state()
    save_file(tensors, str(tmp_path / "index.safetensors"))
    config = json.loads(json.dumps(config))
    return index_from_state(load_file(str(tmp_path / "index.safetensors")), config)


# --- Brute force -------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 3, 1024])
def test_brute_force_is_exact(batch_size: int) -> None:
    vectors, queries = _data()
    scores, indices = BruteForceIndex(vectors).search(queries, 5, batch_size=batch_size)
    ref_scores, ref_indices = _numpy_top_k(vectors, queries, 5)
    assert scores.shape == indices.shape == (7, 5) and indices.dtype == torch.long
    np.testing.assert_array_equal(indices.numpy(), ref_indices)
    np.testing.assert_allclose(scores.numpy(), ref_scores, rtol=1e-5, atol=1e-5)


def test_padding_row_zero_is_never_returned() -> None:
    vectors, queries = _data(n=10)
    vectors[0] = queries.sum(0) * 100  # would win every query
    _, indices = BruteForceIndex(vectors).search(queries, 10)
    assert not (indices == 0).any()
    assert (indices[:, -1] == -1).all()  # 9 real movies for 10 places


def _exclusion_forms(n: int) -> tuple[list[list[int]], list[object]]:
    per_query = [[1, 2, 3], [], [49], [5, 5, 6], [0], [10, 11, 12, 13], [2]]
    lengths = [len(p) for p in per_query]
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.array([i for p in per_query for i in p], dtype=np.int64)
    mask = np.zeros((len(per_query), n), dtype=bool)
    for row, excluded in enumerate(per_query):
        mask[row, excluded] = True
    forms: list[object] = [
        per_query,
        [torch.tensor(p, dtype=torch.long) for p in per_query],
        ExcludeCSR(torch.from_numpy(indptr), torch.from_numpy(indices)),
        ExcludeCSR(indptr, indices),
        torch.from_numpy(mask),
        mask,
    ]
    return per_query, forms


def test_exclusions_are_honoured_in_every_form() -> None:
    vectors, queries = _data()
    index = BruteForceIndex(vectors)
    per_query, forms = _exclusion_forms(50)
    mask = np.zeros((7, 50), dtype=bool)
    for row, excluded in enumerate(per_query):
        mask[row, excluded] = True
    _, ref_indices = _numpy_top_k(vectors, queries, 8, excluded=mask)
    for form in forms:
        _, indices = index.search(queries, 8, exclude=form, batch_size=3)  # type: ignore[arg-type]
        np.testing.assert_array_equal(indices.numpy(), ref_indices)
        for row, excluded in enumerate(per_query):
            assert not set(indices[row].tolist()) & set(excluded)


def test_k_larger_than_the_candidates_pads_with_minus_one() -> None:
    vectors, queries = _data(n=6, q=2)
    index = BruteForceIndex(vectors)
    scores, indices = index.search(queries, 10, exclude=[[1, 2], []])
    assert indices.shape == (2, 10)
    assert (indices[0, :3] > 0).all() and (indices[0, 3:] == -1).all()  # 5 movies - 2 excluded
    assert (indices[1, :5] > 0).all() and (indices[1, 5:] == -1).all()
    assert torch.isinf(scores[0, 3:]).all() and torch.isfinite(scores[0, :3]).all()
    assert sorted(indices[1, :5].tolist()) == [1, 2, 3, 4, 5]


def test_ids_map_rows_to_movie_indices() -> None:
    vectors, queries = _data(n=4, q=3)
    ids = torch.tensor([12, 0, 3, 7])  # row 1 is the padding movie
    index = BruteForceIndex(vectors, ids)
    _, indices = index.search(queries, 4, exclude=[[7], [], [12, 99 - 90]])
    assert set(indices[0].tolist()) == {12, 3, -1}
    assert set(indices[1].tolist()) == {12, 3, 7, -1}
    assert set(indices[2].tolist()) == {3, 7, -1}
    scores = queries @ vectors.T
    best = ids[[0, 2, 3]][scores[:, [0, 2, 3]].argmax(1)]
    _, top1 = index.search(queries, 1)
    assert top1[:, 0].tolist() == best.tolist()
    with pytest.raises(ValueError, match="unique"):
        BruteForceIndex(vectors, torch.tensor([1, 1, 2, 3]))


def test_bad_search_arguments_are_rejected() -> None:
    vectors, queries = _data()
    index = BruteForceIndex(vectors)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        index.search(queries, 0)
    with pytest.raises(ValueError, match="dim=8"):
        index.search(queries[:, :3], 5)
    with pytest.raises(ValueError, match="batch_size"):
        index.search(queries, 5, batch_size=0)
    with pytest.raises(ValueError, match="one entry per query"):
        index.search(queries, 5, exclude=[[1]])
    with pytest.raises(ValueError, match="non-negative"):
        index.search(queries, 5, exclude=[[-1]] * 7)
    with pytest.raises(ValueError, match="shape"):
        index.search(queries, 5, exclude=torch.zeros(7, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool"):
        index.search(queries, 5, exclude=torch.zeros(7, 50, dtype=torch.long))
    with pytest.raises(ValueError, match="ExcludeCSR"):
        index.search(queries, 5, exclude=torch.zeros(7, dtype=torch.long))


def test_exclusions_of_movies_outside_the_index_are_dropped() -> None:
    vectors, queries = _data(n=4, q=2)
    ids = torch.tensor([0, 3, 5, 8])  # part of a catalogue of 20 movies
    index = BruteForceIndex(vectors, ids)
    wide = torch.zeros(2, 21, dtype=torch.bool)
    wide[0, [3, 20]] = True
    forms: list[object] = [
        [[3, 20], [15]],
        ExcludeCSR(np.array([0, 2, 3]), np.array([3, 20, 15])),
        wide,
    ]
    for form in forms:
        _, indices = index.search(queries, 3, exclude=form)  # type: ignore[arg-type]
        assert sorted(indices[0].tolist()) == [-1, 5, 8]
        assert sorted(indices[1].tolist()) == [3, 5, 8]


def test_brute_force_copies_its_vectors_and_round_trips(tmp_path: Path) -> None:
    vectors, queries = _data()
    index = BruteForceIndex(vectors)
    vectors.zero_()  # the index keeps its own copy
    before = index.search(queries, 5, exclude=[[1]] * 7)
    loaded = _save_load(index, tmp_path)
    assert isinstance(loaded, BruteForceIndex)
    after = loaded.search(queries, 5, exclude=[[1]] * 7)
    torch.testing.assert_close(before, after)
    with_ids = BruteForceIndex(torch.randn(3, 2), torch.tensor([5, 0, 2]))
    reloaded = _save_load(with_ids, tmp_path)
    assert reloaded.ids.tolist() == [5, 0, 2]


def test_empty_query_batch() -> None:
    vectors, _ = _data()
    scores, indices = BruteForceIndex(vectors).search(torch.zeros(0, 8), 3)
    assert scores.shape == indices.shape == (0, 3)


def test_unknown_kind_in_state_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown index kind"):
        index_from_state({}, {"kind": "magic"})


# --- Faiss -------------------------------------------------------------------------------------


@needs_faiss
def test_faiss_recall_against_exact_is_high() -> None:
    vectors, queries = _data(n=1000, d=16, q=32, seed=1)
    exact = BruteForceIndex(vectors)
    approx = FaissIndex(vectors, m=16, ef_construction=100, ef_search=64)
    assert recall_against(exact, exact, queries, 10) == 1.0
    recall = recall_against(exact, approx, queries, 10)
    assert recall >= 0.9, recall


@needs_faiss
def test_faiss_honours_exclusions_padding_and_short_results(tmp_path: Path) -> None:
    vectors, queries = _data()
    vectors[0] = queries.sum(0) * 100
    index = FaissIndex(vectors)
    per_query, forms = _exclusion_forms(50)
    for form in forms:
        scores, indices = index.search(queries, 8, exclude=form, batch_size=4)  # type: ignore[arg-type]
        assert indices.shape == (7, 8) and not (indices == 0).any()
        for row, excluded in enumerate(per_query):
            assert not set(indices[row].tolist()) & set(excluded)
        # Scores come best first.
        assert torch.all(scores[:, :-1] >= scores[:, 1:])
    # On 50 vectors HNSW is exact in practice; compare with the reference.
    mask = np.zeros((7, 50), dtype=bool)
    for row, excluded in enumerate(per_query):
        mask[row, excluded] = True
    _, ref = _numpy_top_k(vectors, queries, 8, excluded=mask)
    _, found = index.search(queries, 8, exclude=per_query)
    np.testing.assert_array_equal(found.numpy(), ref)

    small = FaissIndex(vectors[:6])
    scores, indices = small.search(queries[:2], 10, exclude=[[1, 2], []])
    assert (indices[0, 3:] == -1).all() and (indices[0, :3] > 0).all()
    assert (indices[1, 5:] == -1).all() and math.isinf(float(scores[1, 9]))


@needs_faiss
def test_faiss_round_trip_answers_identically(tmp_path: Path) -> None:
    vectors, queries = _data(n=300, d=8, q=20)
    index = FaissIndex(vectors, torch.arange(300) + 1000 * (torch.arange(300) > 0))
    before = index.search(queries, 10, exclude=[[1001]] * 20)
    loaded = _save_load(index, tmp_path)
    assert isinstance(loaded, FaissIndex) and loaded.dim == 8
    torch.testing.assert_close(loaded.search(queries, 10, exclude=[[1001]] * 20), before)
    assert (before[1] != 1001).all() and (before[1] >= 1000).all()


def test_faiss_missing_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import faiss` raise ImportError, installed or not.
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match=r"pip install 'reelrank\[ann\]'"):
        FaissIndex(torch.randn(3, 2))
