"""How much memory a job may use on its device right now."""

from __future__ import annotations

import mmap
from pathlib import Path

import torch


def available_bytes(device: torch.device) -> int | None:
    """Free memory on `device`: CUDA free memory plus torch's cached blocks, else MemAvailable; None if unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def lazy_buffer(size: int) -> mmap.mmap:
    """A zeroed, writable buffer of `size` bytes whose memory is taken only as it is written.

    Anonymous mappings reserve address space, not memory: an upload that declares 256 MiB and sends 16 bytes costs
    a page, a finished one is its bytes once (no growing and copying), and the daemon's malloc settings, which keep
    freed memory for the tensors, do not apply to it.
    """
    return mmap.mmap(-1, size)
