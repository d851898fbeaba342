"""Configs to and from JSON: `to_dict`, and `from_dict` with every value checked (its type,
`BOUNDS` and `CHOICES`), so that a config read from a file never builds something absurd.

Standard library only (layer 1); generic over the dataclasses of this package.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, TypeVar

from reelrank.errors import ReelrankError

T = TypeVar("T")


def to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as JSON-ready dict (tuples become lists)."""
    return dataclasses.asdict(config)


# What a config read from a file may hold, by field name (in any component): (lowest, highest).
# The bounds keep what a model built from it allocates sane: `"hidden_dims": [10000000, ...]`
# or an `embedding_dim` of 10**9 is refused before any tensor is made.
BOUNDS: dict[str, tuple[float, float]] = {
    "embedding_dim": (1, 4096),
    "cross_layers": (0, 64),
    "l2": (0, 1e6),
    "validation_fraction": (0, 0.5),
    "patience": (0, 1_000_000),
    "max_cells": (0, 2**62),
    "hidden_dims": (1, 16384),
    "tower_hidden_dims": (1, 16384),
    "max_history": (1, 100_000),
    "attention_layers": (1, 64),
    "attention_heads": (1, 64),
    "sequence_dropout": (0, 0.99),
    "ease_lambda": (0, 1e12),
    "edlae_dropout": (0, 0.99),
    "low_rank": (0, 4096),
    "dense_item_item_mb": (0, 1 << 30),
    "approx_rank": (1, 65536),
    "approx_lambda": (0, 1e12),
    "low_rank_weight": (0, 1e6),
    "blend_weight": (0, 1e6),
    "fold_in_tower_weight": (0, 1e6),
    "fold_in_shrinkage": (0, 1e6),
    "fold_in_popularity": (0, 1e6),
    "fold_in_popularity_offset": (0, 1e6),
    "temperature": (1e-6, 1e6),
    "learning_rate": (1e-12, 1e3),
    "adagrad_initial_accumulator": (0, 1e6),
    "epsilon": (0, 1),
    "weight_decay": (0, 1e3),
    "batch_size": (1, 10_000_000),
    "epochs": (1, 1_000_000),
    "eval_batch_size": (1, 10_000_000),
    "served_users": (1, 100_000_000),
    "seed": (0, 2**63 - 1),
    "rating": (0, 1e6),
    "retrieval": (0, 1e6),
    "candidates": (1, 1_000_000),
    "min_history": (0, 1_000_000),
    "recent_likes": (0, 1_000_000),
    "recent_weight": (0, 1e6),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": ("adagrad", "adam", "lbfgs"),
    "schedule": ("constant", "cosine"),
    "precision": ("fp32", "bf16"),
    "reduction": ("mean", "sum"),
    "index": ("auto", "brute_force", "hnsw"),
}


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "") -> T:
    """Rebuild a config dataclass from `to_dict` output, checked: unknown keys, a value of the
    wrong type (`"32"` for an integer), out of `BOUNDS` or not one of `CHOICES` is a
    `ReelrankError` naming the field (`where` prefixes its path)."""
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise ReelrankError(f"{where}: expected a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - known
    if unknown:
        raise ReelrankError(
            f"{where}: unknown field(s) {sorted(unknown)}; expected some of {sorted(known)}"
        )
    kwargs = {
        name: _checked(name, _coerce(hints[name], value, f"{where}.{name}"), f"{where}.{name}")
        for name, value in data.items()
    }
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(inner[0], value, where)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where=where)  # type: ignore[arg-type]
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ReelrankError(f"{where}: expected a list, got {value!r}")
        item = typing.get_args(hint)[0]
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    expected = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    if hint in expected:
        if hint is bool:
            fits = isinstance(value, bool)
        elif hint is float:  # an integer is a number too; NaN and infinity are not
            fits = isinstance(value, int | float) and not isinstance(value, bool)
            fits = fits and math.isfinite(value)
        else:
            fits = isinstance(value, hint) and not isinstance(value, bool)
        if not fits:
            raise ReelrankError(f"{where}: expected {expected[hint]}, got {value!r}")
    return value


def _checked(name: str, value: Any, where: str) -> Any:
    """`value` of field `name`, within its `BOUNDS` and `CHOICES` (every element of a tuple)."""
    values = value if isinstance(value, tuple) else (value,)
    if name in BOUNDS and not dataclasses.is_dataclass(value):
        low, high = BOUNDS[name]
        for v in values:
            if isinstance(v, int | float) and not low <= v <= high:
                raise ReelrankError(f"{where}: must lie in [{low:g}, {high:g}], got {v!r}")
    if name in CHOICES and value not in CHOICES[name]:
        raise ReelrankError(f"{where}: must be one of {list(CHOICES[name])}, got {value!r}")
    return value
