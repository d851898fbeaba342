"""Keras' Adagrad with row-sparse embedding updates: the same weights as torch's dense Adagrad."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reelrank.training.optimizers import Adagrad, sparse_embeddings


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.ModuleDict(
        {"users": nn.Embedding(50, 4), "movies": nn.Embedding(30, 4), "out": nn.Linear(8, 1)}
    )


def _train(model: nn.Module, make: type, sparse: bool, steps: int = 20) -> None:
    sparse_embeddings([model], sparse)
    if make is Adagrad:
        opt = Adagrad(model.parameters(), lr=0.1, initial_accumulator=0.1, eps=1e-7)
    else:
        opt = torch.optim.Adagrad(
            model.parameters(), lr=0.1, initial_accumulator_value=0.1, eps=1e-7
        )
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        # Repeated indices in a batch: their gradients must be summed before the update.
        u, m = torch.randint(0, 50, (64,), generator=g), torch.randint(0, 30, (64,), generator=g)
        x = torch.cat([model["users"](u), model["movies"](m)], dim=1)  # type: ignore[index]
        loss = (model["out"](x).squeeze(-1) - 1.0).pow(2).mean()  # type: ignore[index]
        opt.zero_grad()
        loss.backward()
        opt.step()
    sparse_embeddings([model], False)


def test_row_sparse_and_dense_match_torch_adagrad() -> None:
    reference, dense, sparse = _model(1), _model(1), _model(1)
    _train(reference, torch.optim.Adagrad, sparse=False)
    _train(dense, Adagrad, sparse=False)
    _train(sparse, Adagrad, sparse=True)
    for name, want in reference.state_dict().items():
        torch.testing.assert_close(dense.state_dict()[name], want, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(sparse.state_dict()[name], want, rtol=1e-5, atol=1e-6)
    assert not any(m.sparse for m in sparse.modules() if isinstance(m, nn.Embedding))


def test_state_round_trip_and_checks() -> None:
    model = _model(2)
    opt = Adagrad(model.parameters(), lr=0.05)
    state = opt.state_dict()
    other = Adagrad(model.parameters(), lr=0.5)
    other.load_state_dict(state)
    assert other.lr == 0.05
    with pytest.raises(ValueError, match="other parameters"):
        Adagrad([nn.Parameter(torch.zeros(3))], lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="learning rate"):
        Adagrad(model.parameters(), lr=0)
    decayed = Adagrad(model.parameters(), lr=0.1, weight_decay=0.01)
    sparse_embeddings([model], True)
    model["users"](torch.tensor([1, 2])).sum().backward()  # type: ignore[index]
    with pytest.raises(ValueError, match="weight decay needs dense"):
        decayed.step()
