"""gatys on a big layer: `detail` fast (work small, enlarge), fine and full (refine up to the layer's size, in exact
tiles where one VGG19 pass would not fit), against the peer: jcjohnson/neural-style users' manual multi-resolution
(run at the working size, then again untiled at the full size initialised from that result, by hand).

Each run is its own subprocess, so its peak memory (ru_maxrss) is its own. Measured per run: seconds, peak memory,
the high-frequency share of the result (spectral energy above a quarter of the sampling rate) as a ratio to the
enlarged (fast) result's, the fine-scale style distance (Grams at relu1_1..relu3_1, at the layer's size, against the
style at the same scale) and the content distance (relu4_2). The content is a photo no test uses.

    PYTHONPATH=server:plugins/client python benchmarks/fullres.py --sizes 1024 --modes fast fine full peer \
        [--work 256 --steps 100 --detail-steps 5]

With --method mrf (doodle needs labels; analogy, swap, adain, wct likewise) the method runs as a painter's job does,
through the pipeline, at its own defaults but for the working size: `fast` enlarges its result, `fine` refines it up
to the layer's size (methods/detail.py); --steps is gatys's only.

    PYTHONPATH=server:plugins/client python benchmarks/fullres.py --method mrf --sizes 1024 2048 --modes fast fine \
        --work 384 --detail-steps 10
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
import torch
from measures import cpu_model, load, save, to_uint8  # benchmarks/ is the script's own folder

from impasto.imaging.resample import fit_longest_side, resize
from impasto.losses.gram import gram_matrix
from impasto.methods import registry
from impasto.methods.base import JobContext, LRUCache, MethodInput, StyleSource
from impasto.methods.gatys import Gatys
from impasto.networks.vgg import load_vgg19
from impasto.params import resolve
from impasto.pipeline import JobRequest, StyleRequest, run_job
from impasto.samples import SAMPLES
from impasto_client import Image as WireImage
from impasto_client import Layout, SampleType

CONTENT = Path("/usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg")
STYLE = SAMPLES / "mosaic.png"
FINE_LAYERS = ("relu1_1", "relu2_1", "relu3_1")


class FromPicture(Gatys):
    """gatys started from a given picture: the peer's second, full-size run (neural-style's -init image)."""

    start: torch.Tensor

    def _init(self, kind, content, style, vgg, generator):
        return vgg.preprocess(resize(self.start, *content.shape[-2:]))


def wire(image: torch.Tensor) -> WireImage:
    array = to_uint8(image)
    return WireImage(array.shape[1], array.shape[0], Layout.RGB, SampleType.UINT8, array.tobytes())


def through_pipeline(method: str, mode: str, content: torch.Tensor, style: torch.Tensor, work: int,
                     detail_steps: int) -> torch.Tensor:  # fmt: skip
    """Any other method as a painter's job runs it (the pipeline refines what the method made at `work`), at its
    defaults but for the working size and detail."""
    found = registry.load_methods()[method]
    params = resolve(found.params, {"size": work, "detail": mode, "detail_steps": detail_steps}, method)
    request = JobRequest(found, wire(content), [StyleRequest(1.0, wire(style))], params)
    output = run_job(request, JobContext(torch.device("cpu"), LRUCache(), LRUCache()))
    array = np.frombuffer(output.image.data, np.uint8).reshape(output.image.height, output.image.width, 3)
    return torch.from_numpy(array.astype(np.float32) / 255).permute(2, 0, 1)[None]


def run_one(method: str, mode: str, size: int, work: int, steps: int, detail_steps: int, out: Path) -> dict:
    content, style = load(CONTENT, size), load(STYLE, 1024)
    base = {"size": work, "steps": steps, "coarse_steps": 0, "precision": "float32"}
    styles = [StyleSource(1.0, style, key="style")]
    models = LRUCache()
    started = time.perf_counter()

    def gatys(method: Gatys, image: torch.Tensor, params: dict) -> torch.Tensor:
        params = resolve(method.params, params, method.name)
        h, w = method.working_size(*image.shape[-2:], params)
        ctx = JobContext(torch.device("cpu"), models, LRUCache())
        return resize(method.run(MethodInput(resize(image, h, w), styles, params), ctx), *image.shape[-2:])

    if method != "gatys":
        result = through_pipeline(method, mode, content, style, work, detail_steps)
    elif mode == "peer":
        small = gatys(Gatys(), content, base)
        second = FromPicture()
        second.start = small
        result = gatys(second, content, {**base, "size": 0, "steps": detail_steps * 4})
    else:
        result = gatys(Gatys(), content, {**base, "detail": mode, "detail_steps": detail_steps})
    seconds = time.perf_counter() - started
    save(result, out)
    return {"seconds": seconds, "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def high_frequency_share(image: torch.Tensor) -> float:
    grey = image[0].mean(0).double().numpy()
    spectrum = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(grey.shape[0]), np.fft.fftfreq(grey.shape[1]), indexing="ij")
    return float(spectrum[np.maximum(np.abs(fy), np.abs(fx)) > 0.125].sum() / spectrum.sum())


def judge(result: Path, size: int) -> dict:
    vgg = load_vgg19()
    image, content = load(result, size), load(CONTENT, size)
    style = load(STYLE, 1024)
    style = resize(style, *fit_longest_side(*style.shape[-2:], size))
    with torch.no_grad():
        fi, fs = vgg(image, (*FINE_LAYERS, "relu4_2")), vgg(style, FINE_LAYERS)
        fc = vgg(content, ("relu4_2",))
    fine = sum(float((gram_matrix(fi[k]) - gram_matrix(fs[k])).square().mean()) for k in FINE_LAYERS)
    return {
        "high_frequency": high_frequency_share(image),
        "fine_style_distance": fine,
        "content_distance": float((fi["relu4_2"] - fc["relu4_2"]).square().mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--method", default="gatys", help="another method runs as a job, at its own defaults (modes fast and fine)"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024])
    parser.add_argument("--modes", nargs="+", default=["fast", "fine", "full", "peer"])
    parser.add_argument("--work", type=int, default=256, help="the working size ('size') every mode starts from")
    parser.add_argument("--steps", type=int, default=100, help="steps at the working size")
    parser.add_argument("--detail-steps", type=int, default=5, help="steps per level above it (the peer: 4x this)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/impasto-fullres"))
    parser.add_argument("--one", nargs=2, metavar=("MODE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.one:
        mode, size = args.one[0], int(args.one[1])
        path = args.out / f"{args.method}-{mode}-{size}.png"
        print(json.dumps(run_one(args.method, mode, size, args.work, args.steps, args.detail_steps, path)))
        return
    print(f"CPU: {cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{args.method}: content {CONTENT.name}, style {STYLE.name}, work {args.work} px, {args.steps} steps, "
          f"detail_steps {args.detail_steps}")  # fmt: skip
    for size in args.sizes:
        rows = {}
        for mode in args.modes:
            settings = ["--work", str(args.work), "--steps", str(args.steps), "--detail-steps", str(args.detail_steps),
                        "--method", args.method]  # fmt: skip
            command = [sys.executable, __file__, "--one", mode, str(size), "--out", str(args.out), *settings]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                print(f"{mode} at {size}: failed: {done.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            rows[mode] = {
                **json.loads(done.stdout.strip().splitlines()[-1]),
                **judge(args.out / f"{args.method}-{mode}-{size}.png", size),
            }
            print(size, mode, json.dumps(rows[mode]), flush=True)
        if "fast" in rows and size <= 2048:
            print(
                f"\n| {size} px | seconds | peak GB | high-frequency share (x fast) | fine style distance | content |"
            )
            print("|---|---|---|---|---|---|")
            for mode, r in rows.items():
                ratio = r["high_frequency"] / rows["fast"]["high_frequency"]
                print(f"| {mode} | {r['seconds']:.0f} | {r['peak_gb']:.2f} | {r['high_frequency']:.4f} ({ratio:.2f}x) "
                      f"| {r['fine_style_distance']:.4g} | {r['content_distance']:.4g} |")  # fmt: skip


if __name__ == "__main__":
    main()
