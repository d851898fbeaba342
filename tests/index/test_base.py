"""What every index kind promises (reelrank.index.base): exact answers on a small catalogue,
exclusions, the padding movie, -1/-inf padding of short rows, clear errors, save/load."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from reelrank.index import BruteForceIndex, Exclusions, FaissIndex, Index, index_from_state

try:
    import faiss  # noqa: F401

    HAVE_FAISS = True
except ImportError:
    HAVE_FAISS = False

needs_faiss = pytest.mark.skipif(
    not HAVE_FAISS, reason="faiss is not installed (pip install 'reelrank[ann]')"
)
# On 50 vectors HNSW (ef_search 128) visits every node, so it answers exactly as brute force.
KINDS = [
    pytest.param(BruteForceIndex, id="brute_force"),
    pytest.param(FaissIndex, id="faiss_hnsw", marks=needs_faiss),
]
MakeIndex = Callable[..., Index]

# Repeats, the padding movie 0 and a movie (49) at the catalogue's edge on purpose.
PER_QUERY = [[1, 2, 3], [], [49], [5, 5, 6], [0], [10, 11, 12, 13], [2]]


def _data(n: int = 50, d: int = 8, q: int = 7, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(q, d, generator=g)


def _numpy_top_k(
    vectors: Tensor, queries: Tensor, k: int, exclude: list[list[int]] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The reference: full scores, padding row 0 and exclusions removed, sorted by numpy."""
    scores = queries.double().numpy() @ vectors.double().numpy().T
    scores[:, 0] = -np.inf
    for row, excluded in enumerate(exclude or []):
        scores[row, excluded] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), order


def _save_load(index: Index, vectors: Tensor, tmp_path: Path) -> Index:
    """Through a safetensors file and JSON, as in an artifact; `vectors` play the model's."""
    tensors, config = index.state()
    save_file(tensors, str(tmp_path / "index.safetensors"))
    config = json.loads(json.dumps(config))
    return index_from_state(load_file(str(tmp_path / "index.safetensors")), config, vectors=vectors)


@pytest.mark.parametrize("make", KINDS)
@pytest.mark.parametrize("batch_size", [1, 3, 1024])
def test_search_is_exact_on_a_small_catalogue(make: MakeIndex, batch_size: int) -> None:
    vectors, queries = _data()
    scores, indices = make(vectors).search(queries, 5, batch_size=batch_size)
    ref_scores, ref_indices = _numpy_top_k(vectors, queries, 5)
    assert scores.shape == indices.shape == (7, 5) and indices.dtype == torch.long
    np.testing.assert_array_equal(indices.numpy(), ref_indices)
    np.testing.assert_allclose(scores.numpy(), ref_scores, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", KINDS)
def test_the_padding_movie_is_never_returned(make: MakeIndex) -> None:
    vectors, queries = _data(n=10)
    vectors[0] = queries.sum(0) * 100  # would win every query
    scores, indices = make(vectors).search(queries, 10)
    assert not (indices == 0).any()
    assert (indices[:, -1] == -1).all() and torch.isinf(scores[:, -1]).all()  # 9 movies, 10 places


@pytest.mark.parametrize("make", KINDS)
def test_exclusions_as_lists_arrays_and_tensors(make: MakeIndex) -> None:
    vectors, queries = _data()
    index = make(vectors)
    _, ref_indices = _numpy_top_k(vectors, queries, 8, exclude=PER_QUERY)
    forms: list[Exclusions] = [
        PER_QUERY,
        [np.array(p, dtype=np.int32) for p in PER_QUERY],
        [torch.tensor(p, dtype=torch.long) for p in PER_QUERY],
    ]
    for form in forms:
        scores, indices = index.search(queries, 8, exclude=form, batch_size=3)
        np.testing.assert_array_equal(indices.numpy(), ref_indices)
        assert torch.all(scores[:, :-1] >= scores[:, 1:])  # best first


@pytest.mark.parametrize("make", KINDS)
def test_k_beyond_the_candidates_pads_with_minus_one_and_minus_inf(make: MakeIndex) -> None:
    vectors, queries = _data(n=6, q=2)
    scores, indices = make(vectors).search(queries, 10, exclude=[[1, 2], []])
    assert indices.shape == scores.shape == (2, 10)
    assert (indices[0, :3] > 0).all() and (indices[0, 3:] == -1).all()  # 5 movies - 2 excluded
    assert sorted(indices[1, :5].tolist()) == [1, 2, 3, 4, 5] and (indices[1, 5:] == -1).all()
    assert torch.isfinite(scores[0, :3]).all() and (scores[0, 3:] == float("-inf")).all()
    assert (scores[1, 5:] == float("-inf")).all()


@pytest.mark.parametrize("make", KINDS)
def test_exclusions_of_movies_outside_the_index_are_dropped(make: MakeIndex) -> None:
    vectors, queries = _data(n=4, q=2)
    index = make(vectors, torch.tensor([0, 3, 5, 8]))  # part of a catalogue of 20 movies
    _, indices = index.search(queries, 3, exclude=[[3, 20], [15]])
    assert sorted(indices[0].tolist()) == [-1, 5, 8]
    assert sorted(indices[1].tolist()) == [3, 5, 8]


@pytest.mark.parametrize("make", KINDS)
def test_empty_query_batch(make: MakeIndex) -> None:
    vectors, _ = _data()
    scores, indices = make(vectors).search(torch.zeros(0, 8), 3, exclude=[])
    assert scores.shape == indices.shape == (0, 3) and indices.dtype == torch.long


@pytest.mark.parametrize("make", KINDS)
def test_save_load_with_the_models_vectors_answers_identically(
    make: MakeIndex, tmp_path: Path
) -> None:
    vectors, queries = _data(n=300, q=20)
    index = make(vectors, torch.arange(300) + 1000 * (torch.arange(300) > 0))
    before = index.search(queries, 10, exclude=[[1001]] * 20)
    loaded = _save_load(index, vectors, tmp_path)
    assert type(loaded) is type(index) and loaded.dim == 8
    torch.testing.assert_close(loaded.search(queries, 10, exclude=[[1001]] * 20), before)
    assert (before[1] != 1001).all() and (before[1] >= 1000).all()


@pytest.mark.parametrize(
    ("exclude", "message"),
    [
        ([[1]], "one entry per query"),
        ([[-1]] * 7, "non-negative"),
        ([[1.5]] * 7, "integer movie indices"),
        ([[True]] * 7, "integer movie indices"),
        ([[[1, 2]]] * 7, r"exclude\[0\] must be a 1-D array"),
        (torch.zeros(7, 50, dtype=torch.bool), "one 1-D array of movie indices per query"),
        (np.zeros((7, 3), dtype=np.int64), "got ndarray"),
    ],
)
def test_bad_exclusions_are_rejected(exclude: object, message: str) -> None:
    vectors, queries = _data()
    with pytest.raises(ValueError, match=message):
        BruteForceIndex(vectors).search(queries, 5, exclude=exclude)  # type: ignore[arg-type]


def test_bad_search_arguments_are_rejected() -> None:
    vectors, queries = _data()
    index = BruteForceIndex(vectors)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        index.search(queries, 0)
    with pytest.raises(ValueError, match="dim=8"):
        index.search(queries[:, :3], 5)
    with pytest.raises(ValueError, match="batch_size"):
        index.search(queries, 5, batch_size=0)


def test_unknown_or_mismatched_state_is_an_error() -> None:
    vectors, _ = _data()
    with pytest.raises(ValueError, match="unknown index kind"):
        index_from_state({}, {"kind": "magic"}, vectors=vectors)
    with pytest.raises(ValueError, match="unexpected"):
        index_from_state({"graph": torch.zeros(3)}, {"kind": "brute_force"}, vectors=vectors)
    with pytest.raises(ValueError, match="one per vector row"):
        index_from_state({"ids": torch.arange(3)}, {"kind": "brute_force"}, vectors=vectors)
