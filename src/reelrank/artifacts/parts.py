"""A recommender's parts (`RecommenderParts`: config, catalogue, training ratings, models,
index) to and from an artifact directory (`directory`), strictly: `save_parts` writes
each tensor once; `load_parts` checks everything it rebuilds (config fields and bounds, sizes,
shapes, finite weights, the training ratings' CSR) and says what is wrong as an `ArtifactError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reelrank.artifacts.directory import (
    CONFIG_FILE,
    ArtifactContents,
    load_artifact,
    save_artifact,
)
from reelrank.config import ExperimentConfig
from reelrank.data.catalog.catalog import Catalog
from reelrank.data.encoding.encoded import MovieTable, UserRatings, Vocabularies
from reelrank.data.encoding.vocabulary import Vocabulary
from reelrank.data.splits import parse_split
from reelrank.errors import ArtifactError, ReelrankError
from reelrank.index import Index, index_from_state
from reelrank.models.rating.base import RatingModel
from reelrank.models.rating.ensemble import Ensemble
from reelrank.models.rating.factory import rating_model_for_state
from reelrank.models.rating.mlp import RatingMLP
from reelrank.models.retrieval.base import RetrievalModel
from reelrank.models.retrieval.factory import retrieval_model_from_state_dict
from reelrank.models.retrieval.two_tower import TwoTower


@dataclass(frozen=True)
class RecommenderParts:
    """Everything a `Recommender` is built from, as saved in an artifact."""

    config: ExperimentConfig
    catalog: Catalog
    seen: UserRatings  # each user's training ratings: excluded from, and read by, the models
    rater: RatingModel | None
    retrieval: RetrievalModel | None
    index: Index | None
    metrics: dict[str, Any]
    data_info: dict[str, Any]


def save_parts(path: str | Path, parts: RecommenderParts) -> Path:
    """Write a recommender's parts as an artifact directory (atomically); returns the path."""
    catalog, seen = parts.catalog, parts.seen
    tensors: dict[str, torch.Tensor] = {}
    if parts.rater is not None:
        tensors |= {f"rater.{k}": v for k, v in parts.rater.state_dict().items()}
    index_config: dict[str, Any] | None = None
    if parts.retrieval is not None and parts.index is not None:
        tensors |= {f"retrieval.{k}": v for k, v in parts.retrieval.state_dict().items()}
        index_tensors, index_config = parts.index.state()
        tensors |= {f"index.{k}": v for k, v in index_tensors.items()}
    tensors |= {
        "seen.indptr": torch.from_numpy(seen.indptr),
        "seen.movie_idx": torch.from_numpy(seen.movie_idx),
        "seen.rating": torch.from_numpy(seen.rating),
        "catalog.genres": torch.from_numpy(catalog.table.genres.astype(np.uint8)),
        "catalog.year": torch.from_numpy(catalog.table.year),
    }
    config = {
        "experiment": parts.config.to_dict(),
        "sizes": {"n_users": len(catalog.users), "n_movies": len(catalog.movies)},
        "data": parts.data_info,
        "index": index_config,
    }
    documents = {
        "vocab_users.json": catalog.users.to_json(),
        "vocab_movies.json": catalog.movies.to_json(),
        "catalog.json": {
            "movie_id": catalog.table.movie_id.tolist(),
            "id_to_title": catalog.id_to_title,
        },
    }
    return save_artifact(path, ArtifactContents(config, tensors, documents, parts.metrics))


def load_parts(path: str | Path) -> RecommenderParts:
    """Read an artifact back into a recommender's parts; anything missing, extra, mis-shaped or
    inconsistent is an `ArtifactError` that says so."""
    contents = load_artifact(path)
    where = Path(path)
    tensors = dict(contents.tensors)
    for name, tensor in tensors.items():  # found now, not as NaN scores on every request
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ArtifactError(
                f"{where}: tensor {name!r} holds NaN or infinite values; retrain or restore the "
                "artifact"
            )
    config, catalog = _config_and_catalog(contents, tensors, where)
    seen = UserRatings(
        indptr=_take(tensors, "seen.indptr", where).numpy(),
        movie_idx=_take(tensors, "seen.movie_idx", where).numpy(),
        rating=_take(tensors, "seen.rating", where).numpy(),
    )
    _check_seen(seen, catalog, where)
    retrieval, index = None, None
    if config.retrieval is not None:
        histories = (torch.from_numpy(seen.indptr), torch.from_numpy(seen.movie_idx))
        try:
            retrieval = retrieval_model_from_state_dict(
                config.retrieval, _prefixed(tensors, "retrieval."), user_histories=histories
            )
            # The index's vectors are the model's own: the artifact stores them only once.
            with torch.no_grad():
                vectors = retrieval.eval().all_movie_embeddings()
            index = index_from_state(
                _prefixed(tensors, "index."), contents.config.get("index") or {}, vectors=vectors
            )
        except (ValueError, RuntimeError, KeyError, ImportError) as error:
            raise ArtifactError(
                f"{where}: the retrieval model cannot be rebuilt: {error}"
            ) from None
    rater = None
    if config.rating is not None:
        state = _prefixed(dict(tensors), "rater.")
        try:
            rater = rating_model_for_state(
                config.rating, state, n_users=len(catalog.users), n_movies=len(catalog.movies)
            )
        except (ValueError, RuntimeError, KeyError) as error:
            raise ArtifactError(f"{where}: the rating model cannot be rebuilt: {error}") from None
        if (
            config.shared_embeddings
            and isinstance(retrieval, TwoTower)
            and isinstance(rater, RatingMLP)
        ):
            rater.share_embeddings(
                retrieval.user_tower.id_embedding, retrieval.movie_tower.id_embedding
            )
        rater_state = _prefixed(tensors, "rater.")
        if isinstance(rater, Ensemble):
            _size_held_out(rater, rater_state, where)
        load_strict(rater, rater_state, where, "rating")
    if rater is None and retrieval is None:
        raise ArtifactError(f"{where} configures neither a rating nor a retrieval model")
    if tensors:
        raise ArtifactError(f"{where} has unexpected tensors: {sorted(tensors)[:5]}")
    return RecommenderParts(
        config=config,
        catalog=catalog,
        seen=seen,
        rater=rater,
        retrieval=retrieval,
        index=index,
        metrics=contents.metrics,
        data_info=contents.config.get("data", {}),
    )


def _config_and_catalog(
    contents: ArtifactContents, tensors: dict[str, torch.Tensor], where: Path
) -> tuple[ExperimentConfig, Catalog]:
    try:
        config = ExperimentConfig.from_dict(
            contents.config["experiment"], where=f"{CONFIG_FILE} experiment"
        )
        parse_split(config.split)
        sizes = contents.config["sizes"]
        users = Vocabulary.from_json(contents.documents["vocab_users.json"])
        movies = Vocabulary.from_json(contents.documents["vocab_movies.json"])
        catalog_doc = contents.documents["catalog.json"]
    except (KeyError, TypeError, ValueError, ReelrankError) as error:
        raise ArtifactError(f"{where} has an invalid config or vocabulary: {error}") from None
    if not isinstance(sizes, dict) or (len(users), len(movies)) != (
        sizes.get("n_users"),
        sizes.get("n_movies"),
    ):
        raise ArtifactError(
            f"{where}: {CONFIG_FILE} sizes {sizes!r} do not match the vocabularies "
            f"({len(users)} users, {len(movies)} movies); the artifact is corrupt"
        )
    table = MovieTable(
        movie_id=np.asarray(catalog_doc.get("movie_id", []), dtype=str),
        genres=_take(tensors, "catalog.genres", where).numpy().astype(bool),
        year=_take(tensors, "catalog.year", where).numpy(),
        id_to_title=dict(catalog_doc.get("id_to_title", {})),
    )
    try:
        return config, Catalog(Vocabularies(users, movies), table)
    except ValueError as error:
        raise ArtifactError(
            f"{where}: the catalogue does not match the vocabulary: {error}"
        ) from None


def _check_seen(seen: UserRatings, catalog: Catalog, where: Path) -> None:
    """The training ratings' CSR must index within itself and the vocabularies: a bad `indptr` or
    an out-of-range movie index is refused at load, not met as wrong lists or a crash later."""
    indptr, movies = seen.indptr, seen.movie_idx
    problem = None
    if seen.n_users != catalog.users.size:
        problem = f"it has {seen.n_users} user rows, the vocabulary {catalog.users.size}"
    elif not (len(movies) == len(seen.rating) and indptr[0] == 0 and indptr[-1] == len(movies)):
        problem = "its row pointers do not span its ratings"
    elif np.any(np.diff(indptr) < 0):
        problem = "its row pointers decrease"
    elif len(movies) and (movies.min() < 1 or movies.max() >= catalog.movies.size):
        problem = f"a movie index lies outside 1..{catalog.movies.size - 1}"
    elif not np.isfinite(seen.rating).all():
        problem = "a rating is NaN or infinite"
    if problem is not None:
        raise ArtifactError(f"{where}: the training ratings table is corrupt ({problem}); retrain")


def _size_held_out(ensemble: Ensemble, state: dict[str, torch.Tensor], where: Path) -> None:
    """An ensemble's held-out ratings are as many as its run held out (none in an artifact saved
    before they were kept); each must name a known user and movie."""
    held = state.setdefault("held_out", torch.zeros(0, 2, dtype=torch.int64))
    bounds = torch.tensor([ensemble.n_users + 1, ensemble.n_movies + 1])
    if held.ndim != 2 or held.shape[1] != 2 or bool(((held < 0) | (held >= bounds)).any()):
        raise ArtifactError(f"{where}: the rating model's held-out ratings are corrupt; retrain")
    ensemble.held_out = torch.zeros_like(held)


def load_strict(
    module: torch.nn.Module, state: dict[str, torch.Tensor], where: Path, what: str
) -> None:
    """Load a state dict with no missing or unexpected keys and matching shapes."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ArtifactError(
            f"{where}: the {what} weights do not fit the model: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}"
        )
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            raise ArtifactError(
                f"{where}: {what} tensor {name!r} has shape {tuple(tensor.shape)}, "
                f"expected {tuple(expected[name].shape)}"
            )
    module.load_state_dict(state, strict=True)


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Pop and return the tensors whose names start with `prefix`, with the prefix removed."""
    names = [n for n in tensors if n.startswith(prefix)]
    return {n[len(prefix) :]: tensors.pop(n) for n in names}


def _take(tensors: dict[str, torch.Tensor], name: str, where: Path) -> torch.Tensor:
    try:
        return tensors.pop(name)
    except KeyError:
        raise ArtifactError(f"{where} is missing tensor {name!r}; retrain the model") from None
