"""adain, wct and swap through a real daemon: wall time per job (median) and peak memory.

adain and wct run with random networks in the published checkpoint layouts (docs/decoders.md): the
real layer shapes, so the real amount of work, though the pictures they paint are noise; and with the
decoder-free fallback (feature inversion through VGG19), whose time grows with `steps`. swap has no
decoder network: it always inverts.

Each case runs in its own process (daemon and client together), so its peak RSS is its own: one
small warm-up job loads the models, then the timed jobs upload fresh content pixels each time (one
byte differs). The style picture stays the same, as when a painter works with one style, so its
statistics come from the daemon's cache after the first job; the "new style" case uploads a fresh one.

    python benchmarks/feature_methods.py [--runs 3] [--cases adain-network wct-network ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image as PILImage

SAMPLES = Path(__file__).resolve().parent.parent / "server" / "impasto" / "samples"
# name: (method, longest side, params, fresh style each run)
CASES: dict[str, tuple[str, int, dict, bool]] = {
    "adain-network": ("adain", 512, {"decoder": "network"}, False),
    "adain-network-new-style": ("adain", 512, {"decoder": "network"}, True),
    "adain-optimise-100": ("adain", 512, {"decoder": "optimise", "steps": 100}, False),
    "wct-network": ("wct", 512, {"decoder": "network"}, False),
    "wct-optimise-5x20": ("wct", 512, {"decoder": "optimise", "steps": 20}, False),
    "swap-384": ("swap", 384, {}, False),
}


def picture(name: str, longest: int) -> np.ndarray:
    im = PILImage.open(SAMPLES / name).convert("RGB")
    scale = longest / max(im.size)
    return np.asarray(im.resize((round(im.width * scale), round(im.height * scale)), PILImage.BICUBIC))


def random_checkpoints(folder: Path) -> None:
    """Random weights in both published layouts, at the real shapes, under folder/adain and folder/wct."""
    from impasto.networks import decoders

    def random(layout: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
        return {k: torch.randn(shape) * (1.0 / max(1, shape[1:].numel())) ** 0.5 for k, shape in layout.items()}

    (folder / "adain").mkdir(parents=True)
    torch.save(random(decoders.encoder_layout("relu5_4")), folder / "adain" / "vgg_normalised.pth")
    torch.save(random(decoders.decoder_layout("relu4_1")), folder / "adain" / "decoder.pth")
    (folder / "wct").mkdir()
    encoder = random(decoders.encoder_layout("relu5_1"))  # one encoder, as the published levels share
    for i, level in enumerate(decoders.LEVELS, start=1):
        prefix = {k: encoder[k] for k in decoders.encoder_layout(level)}
        torch.save(prefix, folder / "wct" / f"vgg_normalised_conv{i}_1.pth")
        torch.save(random(decoders.decoder_layout(level)), folder / "wct" / f"feature_invertor_conv{i}_1.pth")


def run_case(name: str, runs: int) -> dict:
    """One case in this process: warm-up, then `runs` timed jobs."""
    from impasto.serving.daemon import Config, Daemon
    from impasto_client import Client, Image, Layout, SampleType

    method, longest, params, fresh_style = CASES[name]

    def wire(array: np.ndarray, nonce: int) -> Image:
        data = bytearray(np.ascontiguousarray(array).tobytes())
        data[0] = nonce % 256
        return Image(array.shape[1], array.shape[0], Layout.RGB, SampleType.UINT8, bytes(data))

    content, style = picture("chelsea.png", longest), picture("mosaic.png", longest)
    with tempfile.TemporaryDirectory() as models:
        random_checkpoints(Path(models))
        daemon = Daemon(Config(port=0, models_dir=Path(models))).start()
        try:
            with Client(daemon.address) as client:
                client.stylize(wire(content[:64, :64], 0), [wire(style, 0)], method=method, params=params).result()
                times = []
                for i in range(1, runs + 1):
                    start = time.perf_counter()
                    client.stylize(
                        wire(content, i), [wire(style, i if fresh_style else 0)], method=method, params=params
                    ).result()
                    times.append(time.perf_counter() - start)
        finally:
            daemon.stop()
    return {
        "case": name,
        "size": f"{content.shape[1]}x{content.shape[0]}",
        "median_s": statistics.median(times),
        "times_s": [round(t, 3) for t in times],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one case in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_case(args.one, args.runs)))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
    print(f"{'case':26} {'size':>8} {'median s':>9} {'peak RSS MB':>12}  runs (s)")
    for name in args.cases:
        out = subprocess.run(
            [sys.executable, __file__, "--one", name, "--runs", str(args.runs)],
            check=True,
            capture_output=True,
            text=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:26} {row['size']:>8} {row['median_s']:9.2f} {row['peak_rss_mb']:12.0f}  {row['times_s']}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
