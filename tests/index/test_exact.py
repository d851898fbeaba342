"""BruteForceIndex (reelrank.index.exact): ids, its own copy of the vectors, a state without them,
and an artifact that stores the movie vectors once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import Tensor

from reelrank.config import preset
from reelrank.experiment.run import train_recommender
from reelrank.index import BruteForceIndex, index_from_state
from reelrank.recommender.recommender import Recommender
from reelrank.types import Ratings


def _data(n: int, q: int, d: int = 8) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=g), torch.randn(q, d, generator=g)


def test_ids_map_rows_to_movie_indices() -> None:
    vectors, queries = _data(n=4, q=3)
    ids = torch.tensor([12, 0, 3, 7])  # row 1 is the padding movie
    index = BruteForceIndex(vectors, ids)
    _, indices = index.search(queries, 4, exclude=[[7], [], [12, 9]])
    assert set(indices[0].tolist()) == {12, 3, -1}
    assert set(indices[1].tolist()) == {12, 3, 7, -1}
    assert set(indices[2].tolist()) == {3, 7, -1}
    scores = queries @ vectors.T
    best = ids[[0, 2, 3]][scores[:, [0, 2, 3]].argmax(1)]
    _, top1 = index.search(queries, 1)
    assert top1[:, 0].tolist() == best.tolist()
    with pytest.raises(ValueError, match="unique"):
        BruteForceIndex(vectors, torch.tensor([1, 1, 2, 3]))


def test_the_index_keeps_its_own_copy_of_the_vectors() -> None:
    vectors, queries = _data(n=50, q=7)
    index = BruteForceIndex(vectors)
    before = index.search(queries, 5)
    vectors.zero_()  # as if the model trained on: the built index must not change
    torch.testing.assert_close(index.search(queries, 5), before)


def test_state_holds_no_vectors_only_explicit_ids() -> None:
    vectors, queries = _data(n=50, q=7)
    tensors, config = BruteForceIndex(vectors).state()
    assert tensors == {} and config == {"kind": "brute_force"}
    tensors, _ = BruteForceIndex(vectors[:3], torch.tensor([5, 0, 2])).state()
    assert set(tensors) == {"ids"} and tensors["ids"].tolist() == [5, 0, 2]
    rebuilt = index_from_state({}, {"kind": "brute_force"}, vectors=vectors)
    torch.testing.assert_close(
        rebuilt.search(queries, 5), BruteForceIndex(vectors).search(queries, 5)
    )
    with pytest.raises(ValueError, match="unexpected"):  # each tensor is stored once
        index_from_state({"vectors": vectors}, {"kind": "brute_force"}, vectors=vectors)


def test_an_artifact_stores_the_movie_vectors_once(ratings: Ratings, tmp_path: Path) -> None:
    recommender = train_recommender(ratings, preset("ease"))
    assert isinstance(recommender.index, BruteForceIndex) and recommender.retrieval is not None
    path = recommender.save(tmp_path / "ease")
    weights = load_file(str(path / "weights.safetensors"))
    assert not [name for name in weights if name.startswith("index.")]
    loaded = Recommender.load(path)
    assert isinstance(loaded.index, BruteForceIndex) and loaded.retrieval is not None
    with torch.no_grad():
        queries = recommender.retrieval.user_embedding(torch.arange(1, 20))
    exclude = [recommender.seen.movies_of(u) for u in range(1, 20)]
    before = recommender.index.search(queries, 10, exclude=exclude)
    torch.testing.assert_close(
        loaded.index.search(queries, 10, exclude=exclude), before, rtol=0, atol=0
    )
    assert loaded.similar("1", 5) == recommender.similar("1", 5)
