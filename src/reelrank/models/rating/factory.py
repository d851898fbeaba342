"""Build and rebuild rating models by their configured `kind` ("mlp", "mf", "autorec",
"ensemble"): one place knows every kind and what each needs from the data."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from reelrank.config import RatingModelConfig
from reelrank.models.rating.autorec import AutoRec
from reelrank.models.rating.base import RatingModel
from reelrank.models.rating.ensemble import Ensemble
from reelrank.models.rating.matrix_factorization import MatrixFactorization
from reelrank.models.rating.mlp import RatingMLP

__all__ = ["RATING_KINDS", "feature_names", "new_rating_model", "rating_model_for_state"]

RATING_KINDS = ("mlp", "mf", "autorec", "ensemble")


def feature_names(config: RatingModelConfig) -> tuple[str, ...]:
    """Every side-feature table `config` (and its components) read."""
    names = (*config.user_features, *config.movie_features)
    for component in config.components:
        names += feature_names(component.model)
    return tuple(dict.fromkeys(names))


def needs_histories(config: RatingModelConfig) -> bool:
    """Whether `config` (or a component) reads the users' training histories (SVD++)."""
    own = config.kind == "mf" and config.implicit
    return own or any(needs_histories(c.model) for c in config.components)


def new_rating_model(
    config: RatingModelConfig,
    *,
    n_users: int,
    n_movies: int,
    tables: Mapping[str, Tensor] | None = None,
    histories: tuple[Tensor, Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> RatingModel:
    """An untrained rating model of `config.kind`. `tables` holds the side-feature tables it
    reads (`feature_names`), `histories` each user's training movies as CSR (SVD++). An
    ensemble's models draw from `generator` in turn (without one: each from its own training
    seed)."""
    sizes = {"n_users": n_users, "n_movies": n_movies}
    if config.kind == "mlp":
        return RatingMLP(config, **sizes, tables=tables, generator=generator)
    if config.kind == "mf":
        given = histories if config.implicit else None
        return MatrixFactorization(config, **sizes, histories=given, generator=generator)
    if config.kind == "autorec":
        return AutoRec(config, **sizes, generator=generator)
    if config.kind == "ensemble":
        if not config.components:
            raise ValueError("an ensemble needs at least one component")
        members = []
        for component in config.components:
            if component.model.kind == "ensemble":
                raise ValueError("an ensemble's components cannot be ensembles themselves")
            members.append(
                new_rating_model(
                    component.model,
                    **sizes,
                    tables=tables,
                    histories=histories,
                    generator=generator or torch.Generator().manual_seed(component.training.seed),
                )
            )
        return Ensemble(members)
    raise ValueError(
        f"unknown rating model kind {config.kind!r}; choose one of {', '.join(RATING_KINDS)}"
    )


def rating_model_for_state(
    config: RatingModelConfig,
    state: Mapping[str, Tensor],
    *,
    n_users: int,
    n_movies: int,
    generator: torch.Generator | None = None,
) -> RatingModel:
    """A model of `config` shaped to take the saved `state` (its feature tables and histories
    are read from it; its weights are drawn from `generator`); the caller loads the weights,
    strictly."""
    return _skeleton(config, state, "", n_users=n_users, n_movies=n_movies, generator=generator)


def _skeleton(
    config: RatingModelConfig,
    state: Mapping[str, Tensor],
    prefix: str,
    *,
    n_users: int,
    n_movies: int,
    generator: torch.Generator | None,
) -> RatingModel:
    if config.kind == "ensemble":
        members = [
            _skeleton(
                c.model,
                state,
                f"{prefix}models.{k}.",
                n_users=n_users,
                n_movies=n_movies,
                generator=generator,
            )
            for k, c in enumerate(config.components)
        ]
        if not members:
            raise ValueError("an ensemble needs at least one component")
        return Ensemble(members)
    tables = {
        name: state[f"{prefix}table_{name}"]
        for name in (*config.user_features, *config.movie_features)
        if f"{prefix}table_{name}" in state
    }
    histories = None
    if f"{prefix}history_indptr" in state and f"{prefix}history_movies" in state:
        histories = (state[f"{prefix}history_indptr"], state[f"{prefix}history_movies"])
    return new_rating_model(
        config,
        n_users=n_users,
        n_movies=n_movies,
        tables=tables,
        histories=histories,
        generator=generator,
    )
