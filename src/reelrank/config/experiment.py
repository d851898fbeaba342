"""`ExperimentConfig`: everything needed to rebuild a trained recommender, as every artifact stores
it (JSON, through `json_io`). Standard library only (layer 1)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reelrank.config.json_io import from_dict, to_dict
from reelrank.config.models import RatingModelConfig, RetrievalLossConfig, RetrievalModelConfig
from reelrank.config.training import TaskWeights, TrainingConfig

T = TypeVar("T")


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything needed to rebuild a trained recommender: data split, models, training."""

    preset: str = "seed"
    split: str = "random:0.8"
    rating: RatingModelConfig | None = field(default_factory=RatingModelConfig)
    retrieval: RetrievalModelConfig | None = None
    retrieval_loss: RetrievalLossConfig = field(default_factory=RetrievalLossConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    retrieval_training: TrainingConfig | None = None
    tasks: TaskWeights = field(default_factory=TaskWeights)
    shared_embeddings: bool = False
    # "auto": exact up to 20,000 movies, an HNSW graph beyond (faiss-cpu, the `ann` extra).
    index: str = "auto"  # or "brute_force" (exact) or "hnsw" (approximate)
    candidates: int = 100  # how many movies retrieval hands to ranking
    # Known users with fewer training ratings than this get the most popular movies instead of a
    # personal list (with none, every model's scores for them are alike or noise).
    min_history: int = 1
    # A list from someone's rating history as it grows (the store's users) folds their last
    # `recent_likes` liked movies in once more, `recent_weight` times as strongly as the whole
    # history: what someone liked lately says most about what they watch next. Chosen on a
    # validation replay (docs/benchmarks.md); 0 for either turns it off.
    recent_likes: int = 5
    recent_weight: float = 8.0

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "") -> ExperimentConfig:
        return from_dict(cls, data, where=where)


def with_overrides(config: T, **changes: Any) -> T:
    """A copy of `config` with the given fields replaced (None values are ignored)."""
    changes = {k: v for k, v in changes.items() if v is not None}
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]
