"""Does the loss network's padding let a small picture keep the style's layout? (issue 16)

With zero padding, deep VGG features know where the border is, so a style's Gram matrices carry some of where things
are in the style picture; at small sizes, where the border is a large share of every deep feature map, synthesis then
copies the style's arrangement (its sky on top, its left half on the left) instead of its texture. This runs Gatys
texture synthesis (the `texture` method without a network: the Gram losses alone, from noise) through the real daemon
with VGG19's convolutions padded with zeros, by reflection and by replication, and measures:

- **layout**: the Pearson correlation of the result and the style, both shrunk to 8×8 and per colour channel. A
  texture that keeps no layout scores near 0; one that copies the style's arrangement, near 1.
- **gram**: the Gram distance of the result to the style (relu1_1…relu5_1, zero-padded VGG19 as the suite measures).

    PYTHONPATH=server:plugins/client python -u benchmarks/padding.py [--sizes 48,96] [--seeds 2]

Styles: drawn by benchmarks/pictures.py with a strong layout (the suite's sunset-over-tartan scene, its two-halves
gravel/strokes picture) and the bundled mosaic (little layout), none a test fixture.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import measures, pictures
from benchmarks.wire import from_wire, to_tensor, to_wire

import impasto.methods.gatys as gatys
from impasto.networks.vgg import load_vgg19
from impasto.samples import SAMPLES
from impasto.serving.daemon import Config, Daemon
from impasto_client import Client

PADDINGS = ("zeros", "reflect", "replicate")


def layout(result: np.ndarray, style: np.ndarray) -> float:
    a, b = (F.adaptive_avg_pool2d(to_tensor(x), 8).flatten(2) for x in (result, style))
    a, b = a - a.mean(-1, keepdim=True), b - b.mean(-1, keepdim=True)
    r = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(1e-8)
    return float(r.mean())


def padded_vgg(mode: str):
    """gatys's VGG19 loader with every convolution padded by `mode` (the daemon loads it through this)."""

    def load(pooling: str = "max", models_dir: Path | None = None):
        vgg = load_vgg19(pooling, models_dir)
        for conv in vgg.convs.values():
            conv.padding_mode = mode
        return vgg

    return load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="48,96")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    styles = {
        "sunset": lambda s: pictures.sunset_scene(s, s)[0],
        "two-halves": lambda s: pictures.two_halves(s)[0],
        "mosaic": lambda s: measures.to_uint8(measures.load(SAMPLES / "mosaic.png", s)),
    }
    judge = load_vgg19()
    print(f"{measures.cpu_model()}, {torch.get_num_threads()} threads\n", flush=True)
    rows: dict[tuple[str, int, str], list[tuple[float, float]]] = {}
    original = gatys.load_vgg19
    try:
        for mode in PADDINGS:
            gatys.load_vgg19 = padded_vgg(mode)
            daemon = Daemon(Config(port=0)).start()
            try:
                with Client(daemon.address) as client:
                    for size in sizes:
                        for name, make in styles.items():
                            style = make(size)
                            for seed in range(args.seeds):
                                params = {"size": size, "seed": seed}
                                flat = np.full_like(style, 128)
                                out = client.stylize(to_wire(flat), [to_wire(style)], method="texture", params=params)
                                data = from_wire(out.result())
                                gram = measures.style_distances(judge, to_tensor(data), to_tensor(style))["gram"]
                                rows.setdefault((name, size, mode), []).append((layout(data, style), gram))
                                print(name, size, mode, seed, rows[(name, size, mode)][-1], flush=True)
            finally:
                daemon.stop(grace=0.5)
    finally:
        gatys.load_vgg19 = original
    print("\n| style | px | " + " | ".join(f"{m}: layout / gram" for m in PADDINGS) + " |")
    print("| --- | --- |" + " --- |" * len(PADDINGS))
    for size in sizes:
        for name in styles:
            cells = []
            for mode in PADDINGS:
                got = rows[(name, size, mode)]
                cells.append(f"{statistics.median(g[0] for g in got):.2f} / {statistics.median(g[1] for g in got):.3f}")
            print(f"| {name} | {size} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
