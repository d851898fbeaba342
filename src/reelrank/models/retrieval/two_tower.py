"""`TwoTower`: a user tower and a movie tower, scored by their dot product (the TFRS model).

A tower is an id embedding plus optional side features (each encoded by its kind, see
`FEATURE_KINDS`) and an optional MLP. Feature tables travel inside the weights as buffers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch import Tensor, nn

from reelrank.config import RetrievalModelConfig
from reelrank.models.initialization import keras_init_
from reelrank.models.retrieval.base import RetrievalModel, known_history, known_movies, state_rows

__all__ = [
    "FEATURE_KINDS",
    "MOVIE_FEATURES",
    "USER_FEATURES",
    "FeatureEncoder",
    "FeatureKind",
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


class FeatureEncoder(nn.Module):
    """One feature's table rows -> `[batch, dim]`, by the feature's kind.

    categorical: `[batch]` int indices, embedded; bag: `[batch, width]` padded int index lists
    (0 = padding), mean embedding; dense: `[batch, width]` floats, a linear layer. `size` is the
    vocabulary size (categorical, bag) or the width (dense). The layer is the attribute
    `embedding` or `linear`: those names are part of the saved state-dict keys.
    """

    def __init__(self, kind: FeatureKind, size: int, dim: int) -> None:
        super().__init__()
        layer: nn.Module
        if kind == "categorical":
            layer = nn.Embedding(size, dim)
        elif kind == "bag":
            # padding_idx=0 leaves the padding entries out of the mean (an empty bag gives zeros).
            layer = nn.EmbeddingBag(size, dim, mode="mean", padding_idx=0)
        else:
            layer = nn.Linear(size, dim)
        self.layer_name = "linear" if kind == "dense" else "embedding"
        self.add_module(self.layer_name, layer)

    def forward(self, values: Tensor) -> Tensor:
        out: Tensor = self.get_submodule(self.layer_name)(values)
        return out


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
            size = table.shape[1] if kind == "dense" else cardinalities[name]
            self.encoders[name] = FeatureEncoder(kind, size, dim)
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

    Initialisation is Keras' (`keras_init_`): embeddings uniform in ±0.05, linear weights
    Glorot-uniform, biases 0; `generator` makes it reproducible.

    Saving: `state_dict()` holds weights and feature tables (buffers `user_tower.table_<name>`,
    `movie_tower.table_<name>`); `TwoTower.from_state_dict(config, state_dict)` rebuilds it.
    """

    user_tower: _Tower
    movie_tower: _Tower

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
        towers = {"user_tower": (n_users, user), "movie_tower": (n_movies, movie)}
        for name, (n_ids, tables) in towers.items():  # user first: the init draws in this order
            tower = _Tower(
                n_ids=n_ids,
                dim=self.dim,
                tables=tables,
                cardinalities=cardinalities,
                hidden_dims=config.tower_hidden_dims,
            )
            self.add_module(name, tower)
        self.reset_parameters(generator=generator)

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Keras-like initialisation: embeddings U(±0.05), linear Glorot-uniform, zero bias."""
        keras_init_(self, generator=generator)

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
        history = known_history(history_movie_idx, self.n_movies)
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

    def fold_in_each(self, movie_idx: Tensor) -> Tensor:
        """`[m]` known movies -> `[m, dim]`: `fold_in([i])` for each, in one tower pass."""
        device = self.user_tower.id_embedding.weight.device
        movies = known_movies(movie_idx, self.n_movies).to(device)
        with torch.no_grad():
            if "history" not in self.user_features:
                return self.movie_tower(movies)
            width = self.user_tower.table("history").shape[1]
            rows = torch.zeros(len(movies), width, dtype=torch.long, device=device)
            rows[:, 0] = movies
            unknown = torch.zeros(len(movies), dtype=torch.long, device=device)
            features = {name: torch.zeros_like(unknown) for name in self.user_features}
            features["history"] = rows
            return self.user_tower.encode(unknown, features)

    @classmethod
    def from_state_dict(
        cls, config: RetrievalModelConfig, state_dict: Mapping[str, Tensor]
    ) -> TwoTower:
        """Rebuild from `config` and `state_dict()`: sizes, tables and cardinalities come from the
        stored tensors (a "history" feature is one of them); the load is strict."""
        n_users = state_rows(state_dict, "user_tower.id_embedding.weight") - 1
        n_movies = state_rows(state_dict, "movie_tower.id_embedding.weight") - 1
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
                    cardinalities[name] = state_rows(state_dict, weight)
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
