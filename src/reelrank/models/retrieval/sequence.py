"""`SequenceModel`: a causal transformer over a person's latest movies (SASRec, Kang & McAuley
2018), trained with cross-entropy over the whole catalogue (Klenitskiy & Vasilev, RecSys 2023):
what they watch next, from what they watched and in which order.

A movie's vector is its id embedding plus its content (title words, genres, release year; the
tables travel in the weights as buffers), and the same vectors read the history and score the
catalogue. A window of up to `max_history` movies starts at position 0, padding after it, and
each position attends only to itself and the movies before it: no position sees a later movie
(causality), nor the padding, so a history gives the same query padded or not.

The query of a known user is read off their latest training movies (`table_history`, a buffer, so
the artifact carries it); anyone else's from the history they bring (`fold_in`), in the order they
watched it: the same model serves known users, the liked path and a rating store's users.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from reelrank.config import RetrievalModelConfig
from reelrank.models.retrieval.base import RetrievalModel, known_history, known_movies, state_rows
from reelrank.models.retrieval.two_tower import FEATURE_KINDS, MOVIE_FEATURES, FeatureEncoder

__all__ = ["SequenceModel", "left_aligned"]


def left_aligned(windows: Tensor) -> Tensor:
    """`[batch, L]` right-aligned windows (padding first, as `features.history_table` builds
    them) -> the same movies left-aligned (padding last)."""
    length = windows.shape[1]
    shift = length - (windows > 0).sum(dim=1, keepdim=True)
    places = torch.arange(length, device=windows.device)[None] + shift
    return torch.where(places < length, windows.gather(1, places.clamp(max=length - 1)), 0)


class SequenceModel(RetrievalModel):
    """Query: the transformer's output at a history's latest movie; item: the movie's vector.

    `histories` is `[n_users + 1, max_history]` int64: each user's latest training movies, oldest
    first and right-aligned (0 = padding), as `features.history_table` builds it. `movie_tables`
    holds any of "title_tokens", "genres", "year" (`features.movie_tables`).
    """

    table_history: Tensor

    def __init__(
        self,
        config: RetrievalModelConfig,
        *,
        n_users: int,
        n_movies: int,
        histories: Tensor,
        movie_tables: Mapping[str, Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if config.kind != "sequence":
            raise ValueError(f"a SequenceModel needs kind 'sequence', got {config.kind!r}")
        if config.embedding_dim % config.attention_heads:
            raise ValueError(
                f"embedding_dim {config.embedding_dim} must be a multiple of attention_heads "
                f"{config.attention_heads}"
            )
        if tuple(histories.shape) != (n_users + 1, config.max_history):
            raise ValueError(
                f"histories must be [{n_users + 1}, {config.max_history}], got "
                f"{tuple(histories.shape)}"
            )
        self.config = config
        self.n_users = n_users
        self.n_movies = n_movies
        self.length = config.max_history
        self.heads = config.attention_heads
        dim = config.embedding_dim
        self.register_buffer("table_history", histories.to(torch.long))
        tables = dict(movie_tables or {})
        unknown = set(tables) - set(MOVIE_FEATURES)
        if unknown:
            raise ValueError(f"unknown movie features {sorted(unknown)}; use {MOVIE_FEATURES}")
        self.feature_names: tuple[str, ...] = tuple(tables)
        self.id_embedding = nn.Embedding(n_movies + 1, dim, padding_idx=0)
        self.encoders = nn.ModuleDict()
        for name, table in tables.items():
            self.register_buffer(f"table_{name}", table)
            kind = FEATURE_KINDS[name]
            size = table.shape[1] if kind == "dense" else int(table.max()) + 1
            self.encoders[name] = FeatureEncoder(kind, size, dim)
        self.position = nn.Embedding(self.length, dim)
        self.dropout = nn.Dropout(config.sequence_dropout)
        layer = nn.TransformerEncoderLayer(
            dim,
            self.heads,
            dim_feedforward=dim,
            dropout=config.sequence_dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(
            layer, config.attention_layers, enable_nested_tensor=False
        )
        self.final_norm = nn.LayerNorm(dim)
        self._initialise(generator)

    def _initialise(self, generator: torch.Generator | None) -> None:
        with torch.no_grad():
            for name, parameter in self.named_parameters():
                if parameter.ndim >= 2:
                    nn.init.xavier_uniform_(parameter, generator=generator)
                elif name.endswith("bias"):
                    parameter.zero_()
            self.id_embedding.weight[0].zero_()

    def table(self, name: str) -> Tensor:
        table: Tensor = getattr(self, f"table_{name}")
        return table

    def movie_embedding(self, movie_idx: Tensor) -> Tensor:
        """`[...]` movie indices -> `[..., dim]`: the id's vector plus the content's."""
        flat = movie_idx.reshape(-1)
        out = self.id_embedding(flat)
        for name in self.feature_names:
            out = out + self.encoders[name](self.table(name)[flat])
        return out.reshape(*movie_idx.shape, -1)

    def all_movie_embeddings(self) -> Tensor:
        return self.movie_embedding(torch.arange(self.n_movies + 1, device=self.device))

    def encode(self, windows: Tensor, movies: Tensor | None = None) -> Tensor:
        """`[batch, L]` left-aligned movie windows (oldest first, 0 = padding after the last
        movie; `L <= max_history`) -> `[batch, L, dim]`: at each position, the query for the
        movie that comes next (zeros at padding). `movies` (`all_movie_embeddings()`) saves
        computing the movie vectors again."""
        length = windows.shape[1]
        if length > self.length:
            raise ValueError(f"a window holds at most {self.length} movies, got {length}")
        vectors = self.movie_embedding(windows) if movies is None else movies[windows]
        real = (windows > 0)[..., None]
        places = torch.arange(length, device=windows.device)
        x = self.dropout(vectors * math.sqrt(vectors.shape[-1]) + self.position(places)[None])
        # Causal attention: padding comes after every movie, so no movie ever attends to it.
        causal = nn.Transformer.generate_square_subsequent_mask(length, device=windows.device)
        x = self.blocks(x * real, mask=causal, is_causal=True)
        return self.final_norm(x) * real

    def _queries(self, windows: Tensor) -> Tensor:
        """`[batch, L]` left-aligned windows -> `[batch, dim]`: the query after each window's
        last movie (zeros for an empty window)."""
        last = ((windows > 0).sum(dim=1) - 1).clamp(min=0)
        out = self.encode(windows)
        return out[torch.arange(len(windows), device=windows.device), last]

    def user_embedding(self, user_idx: Tensor) -> Tensor:
        """A known user's query from their latest training movies; a user with none (the
        unknown user, index 0) gets zeros."""
        return self._queries(left_aligned(self.table_history[user_idx]))

    def fold_in(self, history_movie_idx: Tensor) -> Tensor:
        """The query after `history` (oldest first; its latest `max_history` known movies)."""
        history = known_history(history_movie_idx, self.n_movies).to(self.device)
        with torch.no_grad():
            return self._queries(history[-self.length :][None])[0]

    def fold_in_each(self, movie_idx: Tensor) -> Tensor:
        movies = known_movies(movie_idx, self.n_movies).to(self.device)
        with torch.no_grad():
            if not movies.numel():
                return self.id_embedding.weight.new_zeros(0, self.config.embedding_dim)
            return self._queries(movies[:, None])

    @classmethod
    def from_state_dict(
        cls, config: RetrievalModelConfig, state_dict: Mapping[str, Tensor]
    ) -> SequenceModel:
        histories = state_dict.get("table_history")
        if histories is None:
            raise ValueError("state dict has no 'table_history'; is it a sequence model's?")
        tables = {
            name: state_dict[f"table_{name}"]
            for name in MOVIE_FEATURES
            if f"table_{name}" in state_dict
        }
        model = cls(
            config,
            n_users=int(histories.shape[0]) - 1,
            n_movies=state_rows(state_dict, "id_embedding.weight") - 1,
            histories=histories,
            movie_tables=tables,
        )
        model.load_state_dict(state_dict, strict=True)
        return model
