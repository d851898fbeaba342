"""Where tensors are computed (`--device auto|cpu|cuda`) and in what precision (`--precision`).

The device is a run-time argument, not part of a model: an artifact trained on a GPU loads on a
CPU. "auto" picks the first CUDA GPU when PyTorch sees one, else the CPU. bf16 runs the dense
layers' matrix products in bfloat16 (`torch.autocast`) with fp32 weights and optimizer state; it
pays where the hardware multiplies bf16 natively: CUDA GPUs from Ampere on, and CPUs with AMX or
AVX-512 BF16. Elsewhere PyTorch emulates it, slower than fp32, so reelrank says so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from reelrank.errors import ReelrankError

DEVICE_HELP = "auto (a CUDA GPU when there is one, else the CPU), cpu, cuda or cuda:N"
PRECISIONS = ("fp32", "bf16")


def resolve_device(name: str) -> torch.device:
    """The `torch.device` a `--device` value names; a GPU that is not there is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ReelrankError(
                f"--device {name}: PyTorch sees no CUDA GPU here (torch {torch.__version__}); "
                "use --device cpu, or auto to take a GPU only when there is one"
            )
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ReelrankError(
                f"--device {name}: there are {torch.cuda.device_count()} CUDA GPU(s), "
                f"numbered 0..{torch.cuda.device_count() - 1}"
            )
        return device
    raise ReelrankError(f"unknown device {name!r}; expected {DEVICE_HELP}")


def native_bf16(device: torch.device) -> bool:
    """Whether `device` multiplies bf16 matrices in hardware."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    cpu = torch.cpu
    return bool(cpu._is_amx_tile_supported() or cpu._is_avx512_bf16_supported())


def check_precision(precision: str, device: torch.device, notify: Callable[[str], None]) -> None:
    """Refuse an unknown precision; warn when bf16 would be emulated on `device`."""
    if precision not in PRECISIONS:
        raise ReelrankError(f"unknown precision {precision!r}; choose {' or '.join(PRECISIONS)}")
    if precision == "bf16" and not native_bf16(device):
        notify(
            f"reelrank: this {device.type.upper()} has no native bf16 matrix units "
            f"(capability {torch.backends.cpu.get_cpu_capability()}); bf16 is emulated and "
            "slower than fp32 here."
            if device.type == "cpu"
            else f"reelrank: {torch.cuda.get_device_name(device)} has no native bf16; "
            "it is emulated and slower than fp32 here."
        )


@contextlib.contextmanager
def autocast(precision: str, device: torch.device) -> Iterator[None]:
    """Matrix products in bf16 inside the block when `precision` is "bf16"."""
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        yield
