"""Several processes, on one machine or many: PyTorch's own `torch.distributed`, as `torchrun`
launches it.

`torchrun --nproc-per-node N [--nnodes M --rdzv-endpoint HOST:PORT] -m reelrank COMMAND ...`
starts N processes per machine and tells each its place through the environment (`RANK`,
`WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`). `World.from_env` reads it, and
`joined` sets up the process group for the length of a command: gloo between CPU processes,
NCCL between GPUs. Run without torchrun, the world is one process and nothing is set up.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from reelrank.errors import ReelrankError

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place among those of one run: `rank` of `size` (0 writes the outputs),
    `local_rank` on its machine (which GPU it takes)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this process evaluates, saves and reports (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @classmethod
    def from_env(cls) -> World:
        """The world `torchrun` describes in the environment, or one process without it."""
        names = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
        values = {name: os.environ.get(name) for name in names}
        if values["WORLD_SIZE"] is None:
            return cls()
        try:
            rank, size = int(values["RANK"] or 0), int(values["WORLD_SIZE"] or 1)
            local_rank = int(values["LOCAL_RANK"] or 0)
        except ValueError:
            raise ReelrankError(
                f"RANK, WORLD_SIZE and LOCAL_RANK must be integers (torchrun sets them), got "
                f"{values}"
            ) from None
        if size < 1 or not 0 <= rank < size or local_rank < 0:
            raise ReelrankError(f"RANK {rank} does not lie in a WORLD_SIZE of {size}")
        return cls(rank=rank, size=size, local_rank=local_rank)

    def device(self, device: torch.device) -> torch.device:
        """The device this process computes on: its own GPU (`local_rank`) when `device` is a
        GPU and several processes share the machine, else `device`."""
        if device.type == "cuda" and self.distributed and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device

    def shard(self, n: int) -> slice:
        """This process's contiguous share of `n` items (the first ones get one more)."""
        per, extra = divmod(n, self.size)
        start = self.rank * per + min(self.rank, extra)
        return slice(start, start + per + (self.rank < extra))


@contextlib.contextmanager
def joined(world: World, device: torch.device) -> Iterator[World]:
    """The process group of `world` for the length of the block (none for one process): NCCL
    when computing on GPUs, gloo on CPUs."""
    if not world.distributed or dist.is_initialized():
        yield world
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(world.device(device))
    dist.init_process_group(backend=backend, rank=world.rank, world_size=world.size)
    try:
        yield world
        # Leave together: rank 0 may still be evaluating, and a process that tears its gloo
        # group down while another still holds it can abort at exit ("terminate called
        # without an active exception").
        dist.barrier()
    finally:
        dist.destroy_process_group()


def barrier(world: World) -> None:
    """Wait here until every process of `world` arrives."""
    if world.distributed:
        dist.barrier()


def gather_objects(world: World, value: T) -> list[T]:
    """Every process's `value`, in rank order (JSON-like values: they are pickled between
    processes of one run, never stored)."""
    if not world.distributed:
        return [value]
    out: list[Any] = [None] * world.size
    dist.all_gather_object(out, value)
    return out


def broadcast_object(world: World, value: T) -> T:
    """Rank 0's `value`, on every process."""
    if not world.distributed:
        return value
    box: list[Any] = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
