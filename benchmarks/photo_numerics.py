"""Time and memory of the photo method's numerics on CPU, each case in a fresh subprocess.

    PYTHONPATH=server python benchmarks/photo_numerics.py [--threads 2] [--repeats 5]

Cases: building the matting Laplacian at 256 and 512 px; one forward+backward of PhotorealismLoss at 512 px;
affine_upsample from a quarter-size fit to 1024 and 4096 px. "Added" is the peak resident memory the case adds to
its process (VmHWM after resetting the high-water mark, minus VmRSS before), so it counts every temporary. Times are
the median of --repeats runs after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

MB = 1e6
CASES = [("laplacian", 256), ("laplacian", 512), ("loss", 512), ("upsample", 1024), ("upsample", 4096)]
UPSAMPLE_FACTOR = 4


def _status(field: str) -> int:
    """VmRSS or VmHWM of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def _measure(run: Callable[[], object], repeats: int) -> dict:
    run()  # first calls initialise MKL and oneDNN; that is not the case's cost
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux >= 4.0)
    before = _status("VmRSS")
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return {"seconds": statistics.median(times), "added": _status("VmHWM") - before}


def child(case: str, size: int, threads: int, repeats: int) -> None:
    import torch
    import torch.nn.functional as F

    from impasto.numerics.affine_upsample import affine_upsample
    from impasto.numerics.matting import PhotorealismLoss, matting_laplacian

    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, size, size, generator=generator)
    extra: dict = {}
    if case == "laplacian":
        extra["nnz"] = matting_laplacian(image).values().numel()
        result = _measure(lambda: matting_laplacian(image), repeats)
    elif case == "loss":
        loss = PhotorealismLoss(image)
        x = (image + 0.01 * torch.randn(image.shape, generator=generator)).requires_grad_(True)

        def step() -> None:
            x.grad = None
            loss(x).backward()

        result = _measure(step, repeats)
    else:
        low = size // UPSAMPLE_FACTOR
        content_low = F.interpolate(image, size=(low, low), mode="bilinear", antialias=True, align_corners=False)
        output_low = content_low.flip(1)
        extra["low"] = low
        result = _measure(lambda: affine_upsample(image, content_low, output_low, radius=2, eps=1e-4), repeats)
    print(json.dumps({"case": case, "size": size, **extra, **result}))


def run_case(case: str, size: int, threads: int, repeats: int) -> dict:
    command = [sys.executable, __file__, "--child", case, str(size), "--threads", str(threads)]
    command += ["--repeats", str(repeats)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{case} {size} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("CASE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.threads, args.repeats)
        return
    print(f"CPU, {args.threads} threads, median of {args.repeats} runs, each case in a fresh process\n")
    print("| case | size | median s | added peak MB | notes |")
    print("|---|---|---|---|---|")
    for case, size in CASES:
        r = run_case(case, size, args.threads, args.repeats)
        label = {"laplacian": "build L", "loss": "loss fwd+bwd", "upsample": "affine_upsample"}[case]
        notes = f"{r['nnz']:,} non-zeros" if "nnz" in r else f"fit at {r['low']}x{r['low']}" if "low" in r else ""
        row = f"| {label} | {size}x{size} | {r['seconds']:.3f} | {r['added'] / MB:.0f} | {notes} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
