"""Which float type the heavy network passes of a job run in.

`precision: auto` is bfloat16 only where it is measured faster on this device. Native bfloat16 support is not enough:
on an Intel Xeon with AVX-512 BF16 but no AMX a VGG19 pass is 1.3x slower in bfloat16 than in float32, on a Zen 4
EPYC 1.6x faster. So where the device has native bfloat16, VGG19's own convolution shapes are timed once, forward and
backward in both types, interleaved; the choice is cached on disk per device model and torch version.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import torch

from .weights import cache_dir

# bfloat16 must beat float32 by this much to be chosen: a tie keeps the more exact type.
MIN_SPEEDUP = 1.1
# VGG19's 3x3 convolutions at a 128 px picture, (channels, side): what gatys, the trainers and the decoders run,
# small enough that the measurement takes a second where bfloat16 is native.
SHAPES = ((64, 128), (128, 64), (256, 32), (512, 16))
PAIRS = 5


@dataclass(frozen=True)
class Choice:
    """What `precision: auto` means on one device, and why."""

    dtype: str  # "float32" or "bfloat16"
    reason: str
    device_model: str


@cache
def native_bfloat16(device_type: str) -> bool:
    """Whether bf16 convolutions run natively (AVX-512 BF16/AMX on CPU, Ampere and later on CUDA)."""
    if device_type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    if device_type == "cuda":
        return torch.cuda.is_bf16_supported()
    return False


def device_model(device: torch.device) -> str:
    """The processor's or GPU's model name, which is what speeds depend on."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return device.type


def measure(device: torch.device, pairs: int = PAIRS) -> tuple[float, float]:
    """Median seconds of VGG19-shaped convolutions forward and backward in float32 and in bfloat16, timed in
    interleaved pairs so a neighbour's load falls on both."""
    generator = torch.Generator().manual_seed(0)
    layers = [
        (
            torch.nn.Conv2d(c, c, 3, padding=1).to(device, memory_format=torch.channels_last),
            torch.randn(1, c, side, side, generator=generator).to(device, memory_format=torch.channels_last),
        )
        for c, side in SHAPES
    ]

    def run(dtype: torch.dtype) -> float:
        started = time.perf_counter()
        for conv, x in layers:
            x = x.detach().requires_grad_()
            with autocast(device, dtype):
                out = conv(x)
            out.float().square().mean().backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - started

    run(torch.float32), run(torch.bfloat16)  # warm-up: oneDNN builds its kernels on first use
    times: dict[torch.dtype, list[float]] = {torch.float32: [], torch.bfloat16: []}
    for _ in range(pairs):
        for dtype in times:
            times[dtype].append(run(dtype))
    return statistics.median(times[torch.float32]), statistics.median(times[torch.bfloat16])


def _cache_file() -> Path:
    return cache_dir() / "precision.json"


def _read_cache() -> dict:
    try:
        found = json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write_cache(entries: dict) -> None:
    path = _cache_file()
    with contextlib.suppress(OSError):  # a read-only home only costs a measurement per start
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(entries, indent=2))
        temporary.replace(path)


def _key(device: torch.device) -> str:
    return f"{device.type}|{device_model(device)}|torch {torch.__version__}"


def measured_choice(device: torch.device, pairs: int = PAIRS) -> Choice:
    """Times both types on this device now, and records the faster (bfloat16 only by MIN_SPEEDUP) in the cache."""
    f32, bf16 = measure(device, pairs)
    speedup = f32 / bf16
    dtype = "bfloat16" if speedup >= MIN_SPEEDUP else "float32"
    choice = Choice(dtype, f"measured: bfloat16 {speedup:.2f}x the speed of float32 on VGG19's convolutions",
                    device_model(device))  # fmt: skip
    _write_cache({**_read_cache(), _key(device): asdict(choice)})
    return choice


@cache
def auto_choice(device: torch.device) -> Choice:
    """What `precision: auto` is on this device: as measured before on this device model and torch version; else
    float32 where bfloat16 is not native (emulated, it is always slower), else measured now."""
    found = _read_cache().get(_key(device))
    if isinstance(found, dict) and found.get("dtype") in ("float32", "bfloat16"):
        return Choice(found["dtype"], str(found.get("reason", "")), device_model(device))
    if not native_bfloat16(device.type):
        return Choice("float32", "no native bfloat16 on this device", device_model(device))
    return measured_choice(device)


def resolve(choice: str, device: torch.device) -> torch.dtype:
    """A `precision` parameter's float type: 'auto' is auto_choice's."""
    if choice == "auto":
        choice = auto_choice(device).dtype
    return torch.bfloat16 if choice == "bfloat16" else torch.float32


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    """Runs convolutions in `dtype`; a no-op for float32."""
    if dtype == torch.float32:
        yield
        return
    with torch.autocast(device.type, dtype=dtype):
        yield
