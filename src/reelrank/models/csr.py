"""Rows of a CSR structure gathered for a batch, in one vectorised step (no per-row loop).

Every model that keeps per-user (or per-movie) lists as CSR — `indptr [n + 1]` into flat value
arrays — reads a batch of rows the same way: `gather_rows`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["GatheredRows", "gather_rows"]


class GatheredRows(NamedTuple):
    """A batch's rows of a CSR structure, concatenated in batch order.

    `row [nnz]`: the batch position each entry belongs to; `entry [nnz]`: its index into the
    flat value arrays; `lengths [batch]`: how many entries each batch row has.
    """

    row: Tensor
    entry: Tensor
    lengths: Tensor


def gather_rows(indptr: Tensor, rows: Tensor) -> GatheredRows:
    """The entries of CSR rows `rows [batch]` (int64) under `indptr`."""
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    row = torch.repeat_interleave(torch.arange(len(rows), device=indptr.device), lengths)
    # Entry j of the concatenation is entry `j - offset[row]` of its own row.
    offset = lengths.cumsum(0) - lengths
    entry = starts[row] + torch.arange(len(row), device=indptr.device) - offset[row]
    return GatheredRows(row, entry, lengths)
