"""Wall time and peak memory of the patch-based methods, mrf, doodle and analogy, through a real daemon on CPU.

    PYTHONPATH=server python benchmarks/patch_methods.py [--cases mrf analogy] [--save DIR]

Each case runs in a fresh subprocess that starts a daemon on a loopback port, warms it up with a tiny job
(VGG19 loaded, oneDNN initialised), then times one job with the method's default parameters from upload to
downloaded result. Peak RSS is the child's high-water mark during that job (Linux VmHWM, reset after the
warm-up), so it includes the daemon, torch and VGG19. Per-stage seconds come from the job's progress events.

Reference figures (other hardware, other implementations): CNNMRF's Torch code at 384 px takes ~100 s on a
Titan X (its README: 101 s in "speed" mode); Deep Image Analogy takes 30-40 min with the public PyTorch
port's CPU PatchMatch.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

SAMPLES = Path(__file__).resolve().parent.parent / "server" / "impasto" / "samples"
# name → (method, content picture, style picture, longest side, params beyond the defaults)
CASES: dict[str, tuple[str, str, str, int, dict]] = {
    "mrf": ("mrf", "astronaut.png", "mosaic.png", 384, {}),
    "mrf-match-every-5": ("mrf", "astronaut.png", "mosaic.png", 384, {"match_every": 5}),
    "mrf-stride-1": ("mrf", "astronaut.png", "mosaic.png", 384, {"stride": 1}),
    "analogy": ("analogy", "astronaut.png", "chelsea.png", 448, {}),
    # The content is the doodle itself (see doodle_inputs): a painting laid out like a two-colour sketch.
    "doodle": ("doodle", "", "mosaic.png", 384, {}),
}
DOODLE_COLOURS = np.array([[255, 255, 0], [0, 128, 255]], np.uint8)


def doodle_inputs(style: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The painting's annotation (its darker and lighter halves by luminance) and a doodle in the same colours:
    a band of the first above the second, with a disc of the first in it."""
    luma = style.astype(float) @ np.array([0.299, 0.587, 0.114])
    annotation = DOODLE_COLOURS[(luma > np.median(luma)).astype(int)]
    h, w = style.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    second = (yy > 0.4 * h) & ((yy - 0.7 * h) ** 2 + (xx - 0.5 * w) ** 2 > (0.15 * min(h, w)) ** 2)
    return annotation, DOODLE_COLOURS[second.astype(int)]


def picture(name: str, longest: int) -> np.ndarray:
    im = PILImage.open(SAMPLES / name).convert("RGB")
    scale = longest / max(im.size)
    return np.asarray(im.resize((round(im.width * scale), round(im.height * scale)), PILImage.BICUBIC))


def _status(field: str) -> int:
    """VmRSS or VmHWM of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def child(case: str, save: str) -> None:
    from impasto.serving.daemon import Config, Daemon
    from impasto_client import Client, Image, Layout, SampleType

    method, content_name, style_name, size, params = CASES[case]

    def wire(array: np.ndarray) -> Image:
        return Image(
            array.shape[1], array.shape[0], Layout.RGB, SampleType.UINT8, np.ascontiguousarray(array).tobytes()
        )

    daemon = Daemon(Config(port=0)).start()
    try:
        with Client(daemon.address, timeout=60) as client:
            small = {"size": 48, "steps": 1, "coarse_steps": 0}
            warm = {"mrf": small, "doodle": small, "analogy": {"size": 48, "iterations": 1}}

            def inputs(longest: int) -> tuple[Image, Image, dict]:
                style = picture(style_name, longest)
                if method != "doodle":
                    return wire(picture(content_name, longest)), wire(style), {}
                annotation, doodle = doodle_inputs(style)
                labels = {"content_labels": wire(doodle), "style_labels": [wire(annotation)]}
                return wire(doodle), wire(style), labels

            tiny, tiny_style, tiny_labels = inputs(48)
            client.stylize(tiny, [tiny_style], method=method, params=warm[method], **tiny_labels).result()
            Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark (Linux >= 4.0)
            before = _status("VmRSS")
            content, style, labels = inputs(size)
            stages: dict[str, float] = defaultdict(float)
            last = [time.perf_counter()]

            def on_event(event) -> None:
                now = time.perf_counter()
                if event.kind == "progress":
                    stages[event.stage] += now - last[0]
                last[0] = now

            start = time.perf_counter()
            call = client.stylize(content, [style], method=method, params=params, **labels)
            result = call.result(on_event)
            seconds = time.perf_counter() - start
            peak = _status("VmHWM")
            if save:
                out = np.frombuffer(result.data, np.uint8).reshape(result.height, result.width, 3)
                PILImage.fromarray(out).save(Path(save) / f"{case}.png")
                for name, layer in call.extra_layers.items():
                    extra = np.frombuffer(layer.data, np.uint8).reshape(layer.height, layer.width, 3)
                    PILImage.fromarray(extra).save(Path(save) / f"{case} {name}.png")
    finally:
        daemon.stop(grace=1.0)
    load = os.getloadavg()[0]
    print(
        json.dumps(
            {
                "case": case,
                "size": f"{content.width}x{content.height}",
                "seconds": seconds,
                "peak_rss": peak,
                "rss_before": before,
                "load": load,
                "stages": stages,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", nargs="+", default=["mrf", "doodle", "analogy"], choices=sorted(CASES))
    parser.add_argument("--save", default="", help="folder to save the results in")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--stages", action="store_true", help="print seconds per progress stage")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.save)
        return
    print(f"{'case':20} {'size':>8} {'seconds':>8} {'peak RSS':>9} {'job adds':>9} {'load':>5}")
    for case in args.cases:
        command = [sys.executable, __file__, "--child", case, "--save", args.save]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{case:20} {row['size']:>8} {row['seconds']:8.1f} {row['peak_rss'] / 1e9:7.2f}GB "
            f"{(row['peak_rss'] - row['rss_before']) / 1e9:7.2f}GB {row['load']:5.1f}"
        )
        if args.stages:
            for stage, seconds in row["stages"].items():
                print(f"    {stage:45} {seconds:7.1f}")


if __name__ == "__main__":
    main()
