"""Retrieval models (the candidate generators): the interface, `TwoTower` and `Popularity`.

The item-item models (EASE, EDLAE) live in `reelrank.models.item_based`.

Models see contiguous integer indices only: index 0 is the unknown/padding user or movie, the known
ones are `1..n` (vocabulary rows `n + 1`, like Keras' `StringLookup(mask_token=None)`).

Every retrieval model is a `RetrievalModel` and factorises its scores as a dot product of a query
(user) vector and an item (movie) vector, so the index and the recommender treat them all alike:

- `user_embedding(user_idx [b]) -> [b, d]` and `movie_embedding(movie_idx [b]) -> [b, d]`
- `all_movie_embeddings() -> [n_movies + 1, d]`: the vectors to build an index from (row = index)
- `fold_in(history_movie_idx [h]) -> [d]`: a query vector for someone not in the data
- `forward(user_idx [b], movie_idx [b]) -> [b]` scores, and `score_all(user_idx [b]) ->
  [b, n_movies + 1]` / `score_history(history [h]) -> [n_movies + 1]` against the whole catalogue,
  column 0 (the unknown movie) set to `-inf`.

Saving and rebuilding: each model keeps everything it needs to score (feature tables, counts, item
weights) as registered buffers, so `model.state_dict()` is the whole fitted state and goes to
safetensors as is. `retrieval_model_from_state_dict(config, state_dict)` (or the class's own
`from_state_dict`) rebuilds the model from its `RetrievalModelConfig` plus that state dict alone:
sizes come from the stored tensors' shapes, and loading is strict.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Literal

import torch
from torch import Tensor, nn

from reelrank.config import RetrievalModelConfig

__all__ = [
    "MOVIE_FEATURES",
    "USER_FEATURES",
    "Popularity",
    "RetrievalModel",
    "TwoTower",
]

USER_FEATURES: tuple[str, ...] = ("gender", "age", "occupation", "history")
MOVIE_FEATURES: tuple[str, ...] = ("title_tokens", "genres", "year")

# How each feature table is read and encoded:
#   categorical: int [n + 1] index table, embedded;
#   bag: int [n + 1, width] padded index lists (0 = padding), mean of the embeddings of the
#        non-padding entries (an all-padding row gives zeros);
#   dense: float [n + 1, width] (e.g. multi-hot genres), a linear layer.
FeatureKind = Literal["categorical", "bag", "dense"]
FEATURE_KINDS: dict[str, FeatureKind] = {
    "gender": "categorical",
    "age": "categorical",
    "occupation": "categorical",
    "history": "bag",
    "title_tokens": "bag",
    "genres": "dense",
    "year": "categorical",
}

# Keras' defaults, so the ids-only two-tower starts where the TFRS tutorial's does.
_EMBEDDING_INIT_RANGE = 0.05


class RetrievalModel(nn.Module, abc.ABC):
    """The interface every retrieval model offers; scores are `user_vector · movie_vector`.

    Inference methods (`fold_in`, `score_all`, `score_history`) build no autograd graph.
    """

    n_movies: int

    @abc.abstractmethod
    def user_embedding(self, user_idx: Tensor) -> Tensor:
        """`[batch]` user indices -> `[batch, dim]` query vectors."""

    @abc.abstractmethod
    def movie_embedding(self, movie_idx: Tensor) -> Tensor:
        """`[batch]` movie indices -> `[batch, dim]` item vectors."""

    @abc.abstractmethod
    def all_movie_embeddings(self) -> Tensor:
        """`[n_movies + 1, dim]` item vectors of every movie index (row 0: the unknown movie)."""

    @abc.abstractmethod
    def fold_in(self, history_movie_idx: Tensor) -> Tensor:
        """`[history]` movie indices a new person liked -> `[dim]` query vector, no retraining."""

    @classmethod
    @abc.abstractmethod
    def from_state_dict(
        cls, config: RetrievalModelConfig, state_dict: Mapping[str, Tensor]
    ) -> RetrievalModel:
        """Rebuild a model from its config and `state_dict()` (strict: no missing/extra keys)."""

    def forward(self, user_idx: Tensor, movie_idx: Tensor) -> Tensor:
        """Scores of `[batch]` (user, movie) index pairs -> `[batch]`."""
        return (self.user_embedding(user_idx) * self.movie_embedding(movie_idx)).sum(dim=-1)

    def score_all(self, user_idx: Tensor) -> Tensor:
        """`[batch]` user indices -> `[batch, n_movies + 1]` scores; column 0 is `-inf`."""
        with torch.no_grad():
            scores = self.user_embedding(user_idx) @ self.all_movie_embeddings().T
            # The unknown/padding movie must never win a top-k taken over these scores.
            scores[:, 0] = float("-inf")
            return scores

    def score_history(self, history_movie_idx: Tensor) -> Tensor:
        """`[history]` movie indices -> `[n_movies + 1]` scores for a new person (via `fold_in`).

        Column 0 is `-inf`.
        """
        with torch.no_grad():
            scores = self.all_movie_embeddings() @ self.fold_in(history_movie_idx)
            scores[0] = float("-inf")
            return scores


# --- Two towers ------------------------------------------------------------------------------


class _CategoricalEncoder(nn.Module):
    """`[batch]` int indices -> `[batch, dim]` embeddings."""

    def __init__(self, cardinality: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(cardinality, dim)

    def forward(self, values: Tensor) -> Tensor:
        return self.embedding(values)


class _BagEncoder(nn.Module):
    """`[batch, width]` padded int index lists (0 = padding) -> `[batch, dim]` mean embeddings."""

    def __init__(self, cardinality: int, dim: int) -> None:
        super().__init__()
        # padding_idx=0 leaves the padding entries out of the mean (an empty bag gives zeros).
        self.embedding = nn.EmbeddingBag(cardinality, dim, mode="mean", padding_idx=0)

    def forward(self, values: Tensor) -> Tensor:
        return self.embedding(values)


class _DenseEncoder(nn.Module):
    """`[batch, width]` float features -> `[batch, dim]` through a linear layer."""

    def __init__(self, width: int, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, dim)

    def forward(self, values: Tensor) -> Tensor:
        return self.linear(values)


class _Tower(nn.Module):
    """One side of the two-tower model: id embedding + optional feature encoders + optional MLP.

    Feature tables are buffers named `table_<feature>` (`[n_ids + 1, ...]`), so they are saved with
    the weights. Without features and hidden layers the tower is exactly the id embedding lookup.
    """

    def __init__(
        self,
        *,
        n_ids: int,
        dim: int,
        tables: Mapping[str, Tensor],
        cardinalities: Mapping[str, int],
        hidden_dims: tuple[int, ...],
    ) -> None:
        super().__init__()
        self.feature_names: tuple[str, ...] = tuple(tables)
        self.id_embedding = nn.Embedding(n_ids + 1, dim)
        self.encoders = nn.ModuleDict()
        for name, table in tables.items():
            self.register_buffer(f"table_{name}", table)
            kind = FEATURE_KINDS[name]
            if kind == "categorical":
                self.encoders[name] = _CategoricalEncoder(cardinalities[name], dim)
            elif kind == "bag":
                self.encoders[name] = _BagEncoder(cardinalities[name], dim)
            else:
                self.encoders[name] = _DenseEncoder(table.shape[1], dim)
        self.mlp: nn.Sequential | None = None
        if tables or hidden_dims:
            layers: list[nn.Module] = []
            width = dim * (1 + len(tables))
            for hidden in hidden_dims:
                layers += [nn.Linear(width, hidden), nn.ReLU()]
                width = hidden
            layers.append(nn.Linear(width, dim))  # linear output, as in the TFRS deep towers
            self.mlp = nn.Sequential(*layers)

    def table(self, name: str) -> Tensor:
        table: Tensor = getattr(self, f"table_{name}")
        return table

    def forward(self, ids: Tensor) -> Tensor:
        """`[batch]` indices -> `[batch, dim]`, with features looked up from the tables."""
        features = {name: self.table(name)[ids] for name in self.feature_names}
        return self.encode(ids, features)

    def encode(self, ids: Tensor, features: Mapping[str, Tensor]) -> Tensor:
        """`[batch]` indices and `[batch, ...]` feature values (table rows) -> `[batch, dim]`."""
        out = self.id_embedding(ids)
        if self.mlp is None:
            return out
        parts = [out] + [self.encoders[name](features[name]) for name in self.feature_names]
        return self.mlp(torch.cat(parts, dim=-1))


class TwoTower(RetrievalModel):
    """User tower and movie tower; the score of a (user, movie) pair is the dot product.

    User tower: user id embedding, plus the features in `config.user_features`:
    "gender", "age", "occupation" (int index tables `[n_users + 1]`, embedded) and "history"
    (`[n_users + 1, width]` padded movie indices the user rated in training, 0 = padding, embedded
    with the tower's own movie table and mean-pooled over the non-padding entries).
    Movie tower: movie id embedding, plus the features in `config.movie_features`:
    "title_tokens" (`[n_movies + 1, width]` padded token ids, mean-pooled embedding), "genres"
    (`[n_movies + 1, n_genres]` multi-hot float, linear) and "year" (`[n_movies + 1]` int index of
    the release-year bucket, embedded).

    Every feature is encoded to `embedding_dim`; a tower with features or `tower_hidden_dims`
    concatenates the id embedding and the encodings, then runs a ReLU MLP with `tower_hidden_dims`
    and a final linear layer to `embedding_dim`. A tower with neither is exactly the id embedding
    lookup (the TFRS basic retrieval tutorial).

    Categorical and token-vocabulary sizes default to `table.max() + 1`; pass
    `feature_cardinalities` to reserve more rows. Tables given for features the config does not
    name are ignored (the data layer may build all of them once); unknown names are an error.

    Initialisation is Keras': embeddings uniform in ±0.05, linear weights Glorot-uniform, biases 0;
    `generator` makes it reproducible.

    Saving: `state_dict()` holds weights and feature tables (buffers `user_tower.table_<name>`,
    `movie_tower.table_<name>`); `TwoTower.from_state_dict(config, state_dict)` rebuilds it.
    """

    def __init__(
        self,
        config: RetrievalModelConfig,
        *,
        n_users: int,
        n_movies: int,
        user_tables: Mapping[str, Tensor] | None = None,
        movie_tables: Mapping[str, Tensor] | None = None,
        feature_cardinalities: Mapping[str, int] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if config.kind != "two_tower":
            raise ValueError(f"TwoTower needs a config with kind='two_tower', got {config.kind!r}")
        if config.embedding_dim <= 0:
            raise ValueError(f"embedding_dim must be positive, got {config.embedding_dim}")
        if any(h <= 0 for h in config.tower_hidden_dims):
            raise ValueError(
                f"tower_hidden_dims must all be positive, got {config.tower_hidden_dims}"
            )
        if n_users < 1 or n_movies < 1:
            raise ValueError(f"n_users and n_movies must be >= 1, got {n_users} and {n_movies}")
        self.config = config
        self.n_users = n_users
        self.n_movies = n_movies
        self.dim = config.embedding_dim
        cardinalities = dict(feature_cardinalities or {})
        cardinalities.setdefault("history", n_movies + 1)
        user = _validate_tables(
            "user", config.user_features, USER_FEATURES, user_tables, n_users, n_movies
        )
        movie = _validate_tables(
            "movie", config.movie_features, MOVIE_FEATURES, movie_tables, n_movies, n_movies
        )
        for name, table in {**user, **movie}.items():
            if FEATURE_KINDS[name] != "dense":
                needed = int(table.max()) + 1
                given = cardinalities.setdefault(name, needed)
                if given < needed:
                    raise ValueError(
                        f"feature {name!r}: cardinality {given} is too small for its table, "
                        f"whose largest index is {needed - 1}"
                    )
        self.user_tower = _Tower(
            n_ids=n_users,
            dim=self.dim,
            tables=user,
            cardinalities=cardinalities,
            hidden_dims=config.tower_hidden_dims,
        )
        self.movie_tower = _Tower(
            n_ids=n_movies,
            dim=self.dim,
            tables=movie,
            cardinalities=cardinalities,
            hidden_dims=config.tower_hidden_dims,
        )
        self.reset_parameters(generator=generator)

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Keras-like initialisation: embeddings U(±0.05), linear Glorot-uniform, zero bias."""
        for module in self.modules():
            if isinstance(module, nn.Embedding | nn.EmbeddingBag):
                nn.init.uniform_(
                    module.weight, -_EMBEDDING_INIT_RANGE, _EMBEDDING_INIT_RANGE, generator
                )
            elif isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight, generator=generator)
                nn.init.zeros_(module.bias)

    def user_embedding(
        self, user_idx: Tensor, *, exclude_from_history: Tensor | None = None
    ) -> Tensor:
        """`[batch]` user indices -> `[batch, dim]`.

        `exclude_from_history` (`[batch]` movie indices, optional) is dropped from each user's
        "history" feature: pass the positive movies during training, or the model learns to find
        a training positive in the history (which the test movies never are). Ignored without the
        history feature.
        """
        if exclude_from_history is None or "history" not in self.user_tower.feature_names:
            return self.user_tower(user_idx)
        features = {name: self.user_tower.table(name)[user_idx] for name in self.user_features}
        history = features["history"]
        features["history"] = history.masked_fill(history == exclude_from_history[:, None], 0)
        return self.user_tower.encode(user_idx, features)

    def movie_embedding(self, movie_idx: Tensor) -> Tensor:
        """`[batch]` movie indices -> `[batch, dim]`."""
        return self.movie_tower(movie_idx)

    def all_movie_embeddings(self) -> Tensor:
        """`[n_movies + 1, dim]`, row = movie index."""
        ids = torch.arange(self.n_movies + 1, device=self.movie_tower.id_embedding.weight.device)
        return self.movie_tower(ids)

    @property
    def user_features(self) -> tuple[str, ...]:
        return self.user_tower.feature_names

    @property
    def movie_features(self) -> tuple[str, ...]:
        return self.movie_tower.feature_names

    def fold_in(self, history_movie_idx: Tensor) -> Tensor:
        """`[history]` movie indices a new person liked -> `[dim]` query vector, no retraining.

        With the "history" user feature: the user tower run for the unknown user (index 0, its
        other features unknown too) with this history; the last `width` movies are kept if there
        are more (pass them oldest first). Without it: the mean of the movies' tower embeddings.
        Index 0 (unknown movie) entries are dropped; at least one known movie is required (fall
        back to popularity for someone with none).
        """
        history = _known_history(history_movie_idx, self.n_movies)
        device = self.user_tower.id_embedding.weight.device
        history = history.to(device)
        with torch.no_grad():
            if "history" not in self.user_features:
                return self.movie_tower(history).mean(dim=0)
            width = self.user_tower.table("history").shape[1]
            history = history[-width:]
            row = torch.zeros(1, width, dtype=torch.long, device=device)
            row[0, : history.numel()] = history
            unknown = torch.zeros(1, dtype=torch.long, device=device)
            features = {name: torch.zeros_like(unknown) for name in self.user_features}
            features["history"] = row
            return self.user_tower.encode(unknown, features)[0]

    @classmethod
    def from_state_dict(
        cls, config: RetrievalModelConfig, state_dict: Mapping[str, Tensor]
    ) -> TwoTower:
        """Rebuild from `config` and `state_dict()`: sizes, tables and cardinalities come from the
        stored tensors; the load is strict."""
        n_users = _rows(state_dict, "user_tower.id_embedding.weight") - 1
        n_movies = _rows(state_dict, "movie_tower.id_embedding.weight") - 1
        tables: dict[str, dict[str, Tensor]] = {"user": {}, "movie": {}}
        cardinalities: dict[str, int] = {}
        for side, names in (("user", config.user_features), ("movie", config.movie_features)):
            for name in names:
                key = f"{side}_tower.table_{name}"
                if key not in state_dict:
                    raise ValueError(
                        f"state dict has no {key!r}, but the config names the {side} feature "
                        f"{name!r}; the weights and config.json do not belong together"
                    )
                tables[side][name] = state_dict[key]
                if FEATURE_KINDS.get(name) in ("categorical", "bag"):
                    weight = f"{side}_tower.encoders.{name}.embedding.weight"
                    cardinalities[name] = _rows(state_dict, weight)
        model = cls(
            config,
            n_users=n_users,
            n_movies=n_movies,
            user_tables=tables["user"],
            movie_tables=tables["movie"],
            feature_cardinalities=cardinalities,
        )
        model.load_state_dict(dict(state_dict), strict=True)
        return model


def _validate_tables(
    side: str,
    names: tuple[str, ...],
    allowed: tuple[str, ...],
    tables: Mapping[str, Tensor] | None,
    n_ids: int,
    n_movies: int,
) -> dict[str, Tensor]:
    """The configured tables, checked and converted (int64 / float32), in config order."""
    tables = dict(tables or {})
    for name in [*names, *tables]:
        if name not in allowed:
            raise ValueError(f"unknown {side} feature {name!r}; choose from {list(allowed)}")
    if len(set(names)) != len(names):
        raise ValueError(f"{side} features must not repeat, got {list(names)}")
    out: dict[str, Tensor] = {}
    for name in names:
        if name not in tables:
            raise ValueError(
                f"{side} feature {name!r} is configured but no table was given; pass "
                f"{side}_tables={{{name!r}: tensor}}"
            )
        table = tables[name]
        kind = FEATURE_KINDS[name]
        rows = n_ids + 1
        expected = f"[{rows}]" if kind == "categorical" else f"[{rows}, width]"
        ndim = 1 if kind == "categorical" else 2
        if table.ndim != ndim or table.shape[0] != rows or (ndim == 2 and table.shape[1] < 1):
            raise ValueError(
                f"{side} feature {name!r}: table must have shape {expected} (one row per index, "
                f"row 0 = unknown), got {tuple(table.shape)}"
            )
        if kind == "dense":
            out[name] = table.detach().to(torch.float32)
            continue
        if table.is_floating_point() or table.is_complex() or table.dtype == torch.bool:
            raise ValueError(
                f"{side} feature {name!r}: table must hold integers, got {table.dtype}"
            )
        table = table.detach().to(torch.long)
        if bool((table < 0).any()):
            raise ValueError(f"{side} feature {name!r}: table has negative indices")
        if name == "history" and bool((table > n_movies).any()):
            raise ValueError(
                f"user feature 'history': table has movie indices above n_movies={n_movies}"
            )
        out[name] = table
    return out


def _known_history(history_movie_idx: Tensor, n_movies: int) -> Tensor:
    """The known (non-zero) movie indices of a `[history]` tensor, range-checked."""
    if history_movie_idx.ndim != 1:
        raise ValueError(
            f"history must be a 1-D tensor of movie indices, got shape "
            f"{tuple(history_movie_idx.shape)}"
        )
    history = history_movie_idx.to(torch.long)
    if history.numel() and (int(history.min()) < 0 or int(history.max()) > n_movies):
        raise ValueError(f"history movie indices must lie in [0, {n_movies}]")
    history = history[history > 0]
    if history.numel() == 0:
        raise ValueError(
            "fold_in needs at least one known movie (index > 0); use popularity for someone "
            "with no known history"
        )
    return history


def _rows(state_dict: Mapping[str, Tensor], key: str) -> int:
    if key not in state_dict:
        raise ValueError(f"state dict has no {key!r}; is it the state dict of this kind of model?")
    return int(state_dict[key].shape[0])


# --- Popularity ------------------------------------------------------------------------------


class Popularity(RetrievalModel):
    """Same list for everyone: the most-rated movies. Score = `log(1 + count)`.

    Factorised as `user_embedding -> ones [batch, 1]` and `movie_embedding -> log(1 + count)
    [batch, 1]` so it goes through the same index as the learned models. `log(1 + count)` rather
    than `log(count)` keeps never-rated movies finite (they rank last, ties among themselves).

    Fitted state: the `counts` buffer (`[n_movies + 1]` int64), set by `fit`.
    """

    counts: Tensor

    def __init__(self, *, n_movies: int) -> None:
        super().__init__()
        if n_movies < 1:
            raise ValueError(f"n_movies must be >= 1, got {n_movies}")
        self.n_movies = n_movies
        self.register_buffer("counts", torch.zeros(n_movies + 1, dtype=torch.long))

    def fit(self, movie_idx: Tensor) -> Popularity:
        """Count `[n_interactions]` training movie indices; returns self."""
        movie_idx = _check_index_vector("movie_idx", movie_idx, self.n_movies)
        counts = torch.bincount(movie_idx.to(self.counts.device), minlength=self.n_movies + 1)
        self.counts.copy_(counts)
        return self

    def _log_counts(self) -> Tensor:
        return torch.log1p(self.counts.to(torch.float32))

    def user_embedding(self, user_idx: Tensor) -> Tensor:
        """`[batch]` -> `[batch, 1]` ones: every user gets the same scores."""
        return torch.ones(user_idx.shape[0], 1, device=self.counts.device)

    def movie_embedding(self, movie_idx: Tensor) -> Tensor:
        """`[batch]` -> `[batch, 1]` log(1 + count)."""
        return self._log_counts()[movie_idx].unsqueeze(-1)

    def all_movie_embeddings(self) -> Tensor:
        """`[n_movies + 1, 1]` log(1 + count)."""
        return self._log_counts().unsqueeze(-1)

    def fold_in(self, history_movie_idx: Tensor) -> Tensor:
        """`[1]` ones: popularity ignores the history (an empty one is fine)."""
        return torch.ones(1, device=self.counts.device)

    @classmethod
    def from_state_dict(
        cls, config: RetrievalModelConfig, state_dict: Mapping[str, Tensor]
    ) -> Popularity:
        """Rebuild from `config` and `state_dict()` (n_movies from the counts' shape); strict."""
        model = cls(n_movies=_rows(state_dict, "counts") - 1)
        model.load_state_dict(dict(state_dict), strict=True)
        return model


def _check_index_vector(name: str, idx: Tensor, n: int) -> Tensor:
    if idx.ndim != 1 or idx.is_floating_point() or idx.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D integer tensor, got {idx.dtype} {tuple(idx.shape)}")
    idx = idx.to(torch.long)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) > n):
        raise ValueError(f"{name} must lie in [0, {n}]")
    return idx


# --- Factories ---------------------------------------------------------------------------------
