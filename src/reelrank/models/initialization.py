"""Keras' default initialisation, shared by every learned model.

Matching Keras' start makes our numbers comparable with TensorFlow Recommenders'. The random
numbers come from an explicit `torch.Generator` (randomness is an argument: docs/contributing.md),
so the same seed gives the same weights whatever else the process has drawn.
"""

from __future__ import annotations

import torch
from torch import nn

EMBEDDING_INIT_RANGE = 0.05  # Keras' `embeddings_initializer="uniform"`: U(-0.05, 0.05)


def keras_init_(module: nn.Module, *, generator: torch.Generator | None = None) -> None:
    """Initialise in place as Keras does: embeddings (and embedding bags) uniform ±0.05, dense
    weights Glorot-uniform, biases zero; submodules in `module.modules()` order.

    `generator=None` draws from torch's global generator (not reproducible across callers).
    """
    for sub in module.modules():
        if isinstance(sub, nn.Embedding | nn.EmbeddingBag):
            nn.init.uniform_(
                sub.weight, -EMBEDDING_INIT_RANGE, EMBEDDING_INIT_RANGE, generator=generator
            )
        elif isinstance(sub, nn.Linear):
            nn.init.xavier_uniform_(sub.weight, generator=generator)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
