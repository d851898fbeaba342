"""Where and how computation runs: `devices` (`--device`, `--precision`, autocast) and
`distributed` (the `World` torchrun describes, the process group, rank 0's role).
"""

from typing import TYPE_CHECKING

from reelrank._lazy import lazy_exports

if TYPE_CHECKING:
    from reelrank.runtime.devices import autocast, check_precision, resolve_device
    from reelrank.runtime.distributed import World, joined

__all__ = [
    "World",
    "autocast",
    "check_precision",
    "joined",
    "resolve_device",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
