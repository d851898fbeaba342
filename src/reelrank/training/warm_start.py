"""Starting a retrain from an earlier model's weights (`reelrank train --warm-start ARTIFACT`).

Each trainable parameter of the new model takes the old model's parameter of the same name:
whole where the shapes match and it is not a table over users or movies; row by row where it is
one, matched by id (a user or movie of both vocabularies gets its old row; a new one keeps its
fresh initialisation). Buffers (counts, histories: what the data says) are never copied, and
neither is a parameter whose shape changed for another reason (a different preset's layers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from reelrank.data.encoding.vocabulary import Vocabulary


@dataclass(frozen=True)
class WarmStart:
    """What was carried over: whole parameters, row tables (with their rows kept of all rows),
    and parameters left fresh."""

    copied: int
    tables: int
    rows_kept: int
    rows: int
    fresh: int

    def to_json(self) -> dict[str, int]:
        return {
            "copied": self.copied,
            "tables": self.tables,
            "rows_kept": self.rows_kept,
            "rows": self.rows,
            "fresh": self.fresh,
        }


def row_map(old: Vocabulary, new: Vocabulary) -> np.ndarray:
    """`[new.size]`: each new row's row in `old`, -1 where `old` lacks the term (row 0, the
    unknown term, maps to 0)."""
    rows = old.numbers(new.terms, missing="unknown")  # 0 where unknown
    mapped = np.concatenate([[0], np.where(rows > 0, rows, -1)]).astype(np.int64)
    return mapped


@torch.no_grad()
def warm_start(
    new: nn.Module,
    old: nn.Module,
    *,
    users: tuple[Vocabulary, Vocabulary],
    movies: tuple[Vocabulary, Vocabulary],
) -> WarmStart:
    """Copy `old`'s parameters into `new` (see the module docstring); `users` and `movies` are
    the (old, new) vocabularies."""
    old_params = dict(old.named_parameters())
    maps = {
        "user": (users[0].size, users[1].size, row_map(*users)),
        "movie": (movies[0].size, movies[1].size, row_map(*movies)),
    }
    copied = tables = rows_kept = rows = fresh = 0
    for name, param in new.named_parameters():
        source = old_params.get(name)
        if source is None:
            fresh += 1
            continue
        table = _table_kind(name, tuple(source.shape), tuple(param.shape), maps)
        if table is not None:
            _, _, mapping = maps[table]
            kept = mapping >= 0
            target = torch.as_tensor(np.flatnonzero(kept), device=param.device)
            origin = torch.as_tensor(mapping[kept], device=source.device)
            param[target] = source[origin].to(param.device, param.dtype)
            tables += 1
            rows_kept += int(kept.sum())
            rows += len(mapping)
        elif source.shape == param.shape:
            param.copy_(source.to(param.device, param.dtype))
            copied += 1
        else:
            fresh += 1
    return WarmStart(copied, tables, rows_kept, rows, fresh)


def _table_kind(
    name: str,
    old_shape: tuple[int, ...],
    new_shape: tuple[int, ...],
    maps: dict[str, tuple[int, int, np.ndarray]],
) -> str | None:
    """ "user" or "movie" where the parameter is a table over that vocabulary in both models
    (its first dimension the vocabulary's size, the rest alike), else None. Where both
    vocabularies fit, the name decides."""
    if not old_shape or old_shape[1:] != new_shape[1:]:
        return None
    fits = [
        kind
        for kind, (old_size, new_size, _) in maps.items()
        if old_shape[0] == old_size and new_shape[0] == new_size
    ]
    if len(fits) == 2:
        named = [kind for kind in fits if kind in name.lower()]
        return named[0] if len(named) == 1 else None
    return fits[0] if fits else None
