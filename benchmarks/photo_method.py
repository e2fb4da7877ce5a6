"""The `photo` method end to end through the daemon: fast mode on a 1024 px photo, full mode at 512 px.

Each case runs in a fresh process (a daemon and the client in it), so its peak resident memory is its own.
The paper's implementation (Luan et al. 2017, Torch + CUDA) reports 3–5 minutes per ~700 px image on a
Titan X; targets here, on a 2-core CPU: fast mode at 1024 px under 60 s, full mode at 512 px under 10 min.

    python benchmarks/photo_method.py [--cases fast:1024 full:512] [--save DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

SAMPLES = Path(__file__).resolve().parent.parent / "server" / "impasto" / "samples"


def picture(name: str, longest: int) -> np.ndarray:
    im = PILImage.open(SAMPLES / name).convert("RGB")
    scale = longest / max(im.size)
    return np.asarray(im.resize((round(im.width * scale), round(im.height * scale)), PILImage.LANCZOS))


def child(mode: str, size: int, save: str | None) -> dict:
    from impasto.serving.daemon import Config, Daemon
    from impasto_client import Client, Image, Layout, SampleType

    def wire(a: np.ndarray) -> Image:
        return Image(a.shape[1], a.shape[0], Layout.RGB, SampleType.UINT8, np.ascontiguousarray(a).tobytes())

    # coffee's warm daylight takes the astronaut portrait's cooler, high-contrast studio look.
    content, style = picture("coffee.png", size), picture("astronaut.png", 512)
    params = {"mode": mode} if mode == "fast" else {"mode": mode, "size": size}
    daemon = Daemon(Config(port=0)).start()
    try:
        with Client(daemon.address, timeout=3600) as client:
            start = time.perf_counter()
            result = client.stylize(wire(content), [wire(style)], method="photo", params=params).result()
            seconds = time.perf_counter() - start
    finally:
        daemon.stop(grace=1.0)
    if save:
        out = np.frombuffer(result.data, np.uint8).reshape(result.height, result.width, 3)
        PILImage.fromarray(out).save(Path(save) / f"photo-{mode}-{size}.png")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    layer = f"{content.shape[1]}x{content.shape[0]}"
    return {"case": f"{mode}:{size}", "size": layer, "seconds": seconds, "peak_mb": peak / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", nargs="+", default=["fast:1024", "full:512"])
    parser.add_argument("--save")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, size = args.child.split(":")
        print(json.dumps(child(mode, int(size), args.save)))
        return
    print("| case | layer | time | peak RSS |\n| --- | --- | --- | --- |")
    for case in args.cases:
        cmd = [sys.executable, __file__, "--child", case] + (["--save", args.save] if args.save else [])
        row = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        print(f"| {row['case']} | {row['size']} | {row['seconds']:.1f} s | {row['peak_mb']:.0f} MB |", flush=True)


if __name__ == "__main__":
    main()
