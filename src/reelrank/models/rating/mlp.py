"""The rating model: predicts the rating a user gives a movie (the seed's `RatingMLP`).

Beyond the seed it can add user and movie biases, side features of users and movies, and a
DCN-v2 cross network before the MLP (the TFRS deep & cross tutorial).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from reelrank.config import RatingModelConfig
from reelrank.models.initialization import keras_init_
from reelrank.models.rating.base import RatingModel
from reelrank.models.retrieval.two_tower import FeatureEncoder, FeatureKind

__all__ = ["RATING_FEATURE_KINDS", "RatingMLP"]

# The side features a rating MLP reads, by side, and how each table is encoded (see `TwoTower`).
RATING_FEATURE_KINDS: dict[str, FeatureKind] = {
    "gender": "categorical",
    "age": "categorical",
    "occupation": "categorical",
    "zip_prefix": "categorical",
    "active_time": "categorical",
    "genres": "dense",
    "year": "categorical",
}
USER_SIDE = ("gender", "age", "occupation", "zip_prefix", "active_time")
MOVIE_SIDE = ("genres", "year")


class RatingMLP(RatingModel):
    """User and movie embeddings, concatenated, through ReLU dense layers to one rating.

    With the default config this is the seed exactly: Embedding(users+1, 32), Embedding(movies+1,
    32), concat → Dense 256 relu → Dense 64 relu → Dense 1. Row 0 of each table is the unknown id.
    Initialisation is Keras' (`keras_init_`), drawn from `generator`: the same seed gives the same
    weights (the optional parts are made, and drawn, after the seed's).

    Options (`RatingModelConfig`): `user_features` and `movie_features` are encoded to
    `embedding_dim` each and join the id embeddings (their tables, `[n + 1]` int or `[n + 1, G]`
    float, travel as buffers `table_<name>`); `cross_layers` DCN-v2 layers
    `x ← x0 ⊙ (W x + b) + x` run on the concatenation before the MLP; `biases` adds a user and a
    movie bias (zero at the start) to the output.

    A user vector is `[id embedding, feature encodings..., bias (with biases)]`.
    """

    def __init__(
        self,
        config: RatingModelConfig,
        *,
        n_users: int,
        n_movies: int,
        tables: Mapping[str, Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(n_users=n_users, n_movies=n_movies)
        if config.kind != "mlp":
            raise ValueError(f"RatingMLP needs kind='mlp', got {config.kind!r}")
        self.config = config
        dim = config.embedding_dim
        self.user_embedding = nn.Embedding(n_users + 1, dim)
        self.movie_embedding = nn.Embedding(n_movies + 1, dim)
        self.user_features = tuple(config.user_features)
        self.movie_features = tuple(config.movie_features)
        input_width = dim * (2 + len(self.user_features) + len(self.movie_features))
        width = input_width
        layers: list[nn.Module] = []
        for hidden in config.hidden_dims:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.ratings = nn.Sequential(*layers)
        keras_init_(self, generator=generator)  # the seed's draws, first and in its order

        tables = dict(tables or {})
        self.encoders = nn.ModuleDict()
        for side, names, n_rows in (
            ("user", self.user_features, n_users),
            ("movie", self.movie_features, n_movies),
        ):
            allowed = USER_SIDE if side == "user" else MOVIE_SIDE
            for name in names:
                if name not in allowed:
                    raise ValueError(
                        f"unknown {side} feature {name!r} for a rating model; choose from "
                        f"{', '.join(allowed)}"
                    )
                if name not in tables:
                    raise ValueError(f"{side} feature {name!r} needs its table")
                table = tables[name]
                if table.shape[0] != n_rows + 1:
                    raise ValueError(
                        f"{side} feature {name!r}: table has {table.shape[0]} rows, expected "
                        f"{n_rows + 1}"
                    )
                self.register_buffer(f"table_{name}", table)
                kind = RATING_FEATURE_KINDS[name]
                size = table.shape[1] if kind == "dense" else int(table.max()) + 1
                self.encoders[name] = FeatureEncoder(kind, size, dim)
        self.cross = nn.ModuleList(
            nn.Linear(input_width, input_width) for _ in range(config.cross_layers)
        )
        keras_init_(self.encoders, generator=generator)
        keras_init_(self.cross, generator=generator)
        self.user_bias: nn.Embedding | None = None
        self.movie_bias: nn.Embedding | None = None
        if config.biases:
            self.user_bias = nn.Embedding(n_users + 1, 1)
            self.movie_bias = nn.Embedding(n_movies + 1, 1)
            nn.init.zeros_(self.user_bias.weight)
            nn.init.zeros_(self.movie_bias.weight)

    def _encoded(self, names: tuple[str, ...], rows: Tensor) -> list[Tensor]:
        return [self.encoders[n](getattr(self, f"table_{n}")[rows]) for n in names]

    def user_vectors(self, user_idx: Tensor) -> Tensor:
        parts = [self.user_embedding(user_idx), *self._encoded(self.user_features, user_idx)]
        if self.user_bias is not None:
            parts.append(self.user_bias(user_idx))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def movie_vectors(self, movie_idx: Tensor) -> Tensor:
        """`[batch]` movie indices -> `[batch, width]`: the id embedding and feature encodings."""
        parts = [self.movie_embedding(movie_idx), *self._encoded(self.movie_features, movie_idx)]
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def _user_part(self, user_vectors: Tensor) -> tuple[Tensor, Tensor | None]:
        """A user vector's MLP input and its bias (None without biases)."""
        if self.user_bias is None:
            return user_vectors, None
        return user_vectors[:, :-1], user_vectors[:, -1]

    def raw_rate(self, user_vectors: Tensor, movie_idx: Tensor) -> Tensor:
        features, bias = self._user_part(user_vectors)
        x0 = torch.cat([features, self.movie_vectors(movie_idx)], dim=1)
        x = x0
        for layer in self.cross:
            x = x0 * layer(x) + x
        out: Tensor = self.ratings(x).squeeze(-1)
        if bias is not None and self.movie_bias is not None:
            out = out + bias + self.movie_bias(movie_idx).squeeze(-1)
        return out

    def raw_rate_grid(
        self, user_vectors: Tensor, movie_idx: Tensor, *, max_cells: int = 1 << 24
    ) -> Tensor:
        """The same numbers as `raw_rate` on every pair; without cross layers for about half
        the work: the first layer is linear in the concatenation, so its user and movie halves
        are computed once per user and once per movie and added, instead of once per pair. At
        most `max_cells` hidden values are held at a time (users are taken in chunks)."""
        if len(self.cross):
            return super().raw_rate_grid(user_vectors, movie_idx)
        features, bias = self._user_part(user_vectors)
        first = self.ratings[0]  # a Linear over [user, movie]: the seed's Dense 256, or Dense 1
        assert isinstance(first, nn.Linear)
        dim = features.shape[1]
        from_user = features @ first.weight[:, :dim].T + first.bias  # [u, h]
        from_movie = self.movie_vectors(movie_idx) @ first.weight[:, dim:].T  # [m, h]
        chunk = max(1, max_cells // max(1, len(movie_idx) * first.out_features))
        out = features.new_empty(len(features), len(movie_idx))
        # Every layer writes into a buffer made once: allocating fresh [chunk·m, h] tensors for
        # each chunk fragments the heap, and at 62k movies that cost a gigabyte of peak memory.
        buffers: dict[int, Tensor] = {}
        for start in range(0, len(features), chunk):
            part = from_user[start : start + chunk]
            size = len(part) * len(movie_idx)
            hidden = _buffer(buffers, 0, size, first.out_features, from_user)
            torch.add(
                from_movie[None, :, :],
                part[:, None, :],
                out=hidden.view(len(part), -1, first.out_features),
            )
            layers: list[nn.Module] = list(self.ratings)[1:]
            for position, layer in enumerate(layers, start=1):
                if isinstance(layer, nn.ReLU):
                    hidden.relu_()
                elif isinstance(layer, nn.Linear):
                    result = _buffer(buffers, position, size, layer.out_features, hidden)
                    torch.addmm(layer.bias, hidden, layer.weight.T, out=result)
                    hidden = result
                else:
                    hidden = layer(hidden)
            out[start : start + len(part)] = hidden.view(len(part), -1)
        if bias is not None and self.movie_bias is not None:
            out += bias[:, None] + self.movie_bias(movie_idx).squeeze(-1)[None, :]
        return out

    def share_embeddings(self, user: nn.Embedding, movie: nn.Embedding) -> None:
        """Use these tables (a two-tower model's id embeddings) instead of its own: the TFRS
        multitask model, where rating and retrieval losses train one set of embeddings."""
        for mine, theirs in ((self.user_embedding, user), (self.movie_embedding, movie)):
            if mine.weight.shape != theirs.weight.shape:
                raise ValueError(
                    f"cannot share embeddings of shape {tuple(theirs.weight.shape)} with a "
                    f"rating model whose tables are {tuple(mine.weight.shape)}"
                )
        self.user_embedding = user
        self.movie_embedding = movie


def _buffer(buffers: dict[int, Tensor], key: int, rows: int, width: int, like: Tensor) -> Tensor:
    """A `[rows, width]` view of the buffer `key`, made (or grown) on first need."""
    held = buffers.get(key)
    if held is None or held.numel() < rows * width:
        held = buffers[key] = like.new_empty(rows * width)
    return held[: rows * width].view(rows, width)
