"""Speed of the multistyle26 torch port against onnxruntime running the same ONNX file, on CPU with 2 threads.

    PYTHONPATH=server python benchmarks/feedforward_speed.py [--sizes 256 512 1024] [--runs 7] [--compile]
        [--keep-freed-memory]

Variants run round-robin, so load from other processes slows them alike; medians are reported with the ratio to
onnxruntime. --keep-freed-memory tells glibc malloc to keep freed blocks instead of unmapping them (process-wide),
which removes the page faults that every fresh full-resolution activation otherwise costs.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import onnxruntime as ort
import torch

from impasto.networks import cin
from impasto.runtime import weights

THREADS = 2
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc mallopt parameters


def keep_freed_memory() -> None:
    libc = ctypes.CDLL("libc.so.6")
    if not (libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)):
        raise OSError("mallopt refused")


def variants(size: int, with_compile: bool) -> dict[str, Callable[[], object]]:
    rng = np.random.default_rng(0)
    image = rng.random((1, 3, size, size), dtype=np.float32)
    style = cin.one_hot_style(3)
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.log_severity_level = 3
    session = ort.InferenceSession(str(weights.verified_path("multistyle26")), options, ["CPUExecutionProvider"])
    x = torch.from_numpy(image)
    fast = cin.load_multistyle26()  # channels_last, as loaded
    plain = cin.load_multistyle26().to(memory_format=torch.contiguous_format)

    def no_grad(network: torch.nn.Module) -> Callable[[], object]:
        def run() -> object:
            with torch.no_grad():
                return network(x, style)

        return run

    def inference_mode(network: Callable[..., object]) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode():
                return network(x, style)

        return run

    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the size checks in forward become constants
        frozen = torch.jit.freeze(torch.jit.trace(fast, (x, style), check_trace=False))
    runs = {
        "onnxruntime": lambda: session.run(None, {"image": image, "style_weights": style[0].numpy()}),
        "NCHW, no_grad": no_grad(plain),
        "NCHW, inference_mode": inference_mode(plain),
        "channels_last, no_grad": no_grad(fast),
        "channels_last, inference_mode": inference_mode(fast),
        "channels_last, jit.freeze": inference_mode(frozen),
    }
    if with_compile:
        compiled = torch.compile(fast)
        started = time.perf_counter()
        inference_mode(compiled)()
        print(f"  torch.compile took {time.perf_counter() - started:.1f} s to compile at {size} px")
        runs["channels_last, torch.compile"] = inference_mode(compiled)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--compile", action="store_true", help="also try torch.compile (slow to compile)")
    parser.add_argument("--keep-freed-memory", action="store_true", help="mallopt: never unmap freed memory")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    if args.keep_freed_memory:
        keep_freed_memory()
    for size in args.sizes:
        runs = variants(size, args.compile)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for run in runs.values():  # warm-up: oneDNN picks kernels and onnxruntime plans memory on the first call
            run()
        for _ in range(args.runs):
            for name, run in runs.items():
                started = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - started)
        reference = statistics.median(times["onnxruntime"])
        print(f"{size} px, median of {args.runs} runs, {THREADS} threads:")
        for name, samples in times.items():
            median = statistics.median(samples)
            print(f"  {name:32s} {median * 1000:8.1f} ms  {median / reference:5.2f}x onnxruntime")


if __name__ == "__main__":
    main()
