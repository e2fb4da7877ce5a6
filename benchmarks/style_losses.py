"""Seconds per gatys step for each style loss, side by side, on the same pair in one process.

Every variant optimises the sample pair (chelsea / swirls) at the same size with L-BFGS (one
function evaluation per step, so a step is one forward and backward pass) and no pyramid. Variants
run round-robin so load from other processes slows them alike; the first step of each run (warm-up)
is dropped and the median of the rest is reported, with the ratio to the Gram loss.

    PYTHONPATH=server python benchmarks/style_losses.py [--size 256] [--steps 6] [--rounds 2]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from impasto.methods.base import JobContext, LRUCache, MethodInput, StyleSource
from impasto.methods.gatys import Gatys
from impasto.runtime.allocator import keep_freed_memory

SAMPLES = Path(__file__).resolve().parent.parent / "server" / "impasto" / "samples"
VARIANTS = ("gram", "mmd", "mmd_linear", "mmd_poly", "bn", "histogram", "gram:1,histogram:1")


def load(name: str, size: int) -> torch.Tensor:
    image = Image.open(SAMPLES / name).convert("RGB")
    image = image.resize((size, round(size * image.height / image.width)), Image.BICUBIC)
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255


def step_times(style_loss: str, content: torch.Tensor, style: torch.Tensor, steps: int, models: LRUCache) -> list:
    """Seconds of each step after the first, and the first and last losses."""
    method = Gatys()
    params = {p.name: p.default for p in method.params}
    params.update(size=max(content.shape[-2:]), steps=steps, coarse_steps=0, style_loss=style_loss)
    marks: list[float] = []
    losses: list[float] = []

    def report(stage: str, step: int, total: int, loss: float) -> None:
        marks.append(time.perf_counter())
        losses.append(loss)

    # A fresh feature cache per run, so each variant pays for its own style targets at its first step.
    ctx = JobContext(torch.device("cpu"), models, LRUCache(), report=report)
    method.run(MethodInput(content, [StyleSource(1.0, style, key="style")], params), ctx)
    return [[b - a for a, b in itertools.pairwise(marks)], losses[0], losses[-1]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    keep_freed_memory()  # as the daemon does on CPU
    content, style = load("chelsea.png", args.size), load("swirls.png", args.size)
    models = LRUCache()
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    losses: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            dts, first, last = step_times(variant, content, style, args.steps, models)
            times[variant] += dts
            losses[variant] = (first, last)
    base = statistics.median(times["gram"])
    print(f"\n{content.shape[-1]}x{content.shape[-2]} px, {torch.get_num_threads()} threads, {args.steps} steps\n")
    print("| style_loss | s / step (median) | vs gram | loss at step 1 → last |\n| --- | --- | --- | --- |")
    for variant in VARIANTS:
        median = statistics.median(times[variant])
        first, last = losses[variant]
        print(f"| {variant} | {median:.3f} | {median / base:.2f} | {first:.4g} → {last:.4g} |")


if __name__ == "__main__":
    main()
