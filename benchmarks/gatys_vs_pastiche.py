"""impasto's gatys against pastiche (PyPI) on the same 512 px pair, same CPU, one run.

Both optimise the same objective: content relu4_2 (weight 5), Grams of relu1_1…relu5_1
normalised by C·H·W (weight 100), no TV, L-BFGS with one function evaluation per step,
initialised from the content. pastiche is configured to that objective (content_weight
500 × its 0.01 layer weight; style weight 10 × its 10/C² layer weight = our 100/C²), so
its own loss and ours are the same function of the image, and one common VGG loss can
judge both. Each side runs in its own subprocess so peak memory (ru_maxrss) is its own.

    python benchmarks/gatys_vs_pastiche.py [--iterations 200] [--size 512]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

SAMPLES = Path(__file__).resolve().parent.parent / "server" / "impasto" / "samples"
CONTENT_LAYERS = {"relu4_2": 5.0}
STYLE_LAYERS = {name: 100.0 for name in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")}


def prepare(folder: Path, size: int) -> tuple[Path, Path]:
    content = Image.open(SAMPLES / "chelsea.png").convert("RGB")
    content = content.resize((size, round(size * content.height / content.width)), Image.BICUBIC)
    style = Image.open(SAMPLES / "swirls.png").convert("RGB").resize((size, size), Image.BICUBIC)
    content.save(folder / "content.png")
    style.save(folder / "style.png")
    return folder / "content.png", folder / "style.png"


def load(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)[None].float() / 255


class CommonLoss:
    """The shared objective, evaluated at full size on an RGB 0..1 image."""

    def __init__(self, content: torch.Tensor, style: torch.Tensor) -> None:
        from impasto.losses.content import ContentLoss
        from impasto.losses.style import STATISTICS, StyleLoss, style_targets
        from impasto.networks.vgg import load_vgg19

        self.vgg = load_vgg19()
        self.size = content.shape[-2:]
        with torch.no_grad():
            self.content = ContentLoss(self.vgg(content, CONTENT_LAYERS), {k: 1.0 for k in CONTENT_LAYERS})
            targets = style_targets({"gram": STATISTICS["gram"]()}, self.vgg(style, STYLE_LAYERS), None, 1)
        self.style = StyleLoss({"gram": 1.0}, {k: 1.0 for k in STYLE_LAYERS}, [targets], [1.0])

    def __call__(self, image: torch.Tensor) -> float:
        from impasto.imaging.resample import resize

        with torch.no_grad():
            feats = self.vgg(resize(image, *self.size), [*CONTENT_LAYERS, *STYLE_LAYERS])
            return float(5.0 * self.content(feats) + 100.0 * self.style(feats))


def run_pastiche(content: Path, style: Path, iterations: int, size: int) -> dict:
    from pastiche.pastiche import VGG_MEAN, PasticheArtist

    torch.manual_seed(0)
    start = time.perf_counter()
    artist = PasticheArtist(
        str(content),
        [str(style)],
        device="cpu",
        content_weight=500.0,
        style_weights=[10.0],
        tv_weight=0.0,
        size=size,
        style_size=size,
    )
    setup = time.perf_counter() - start
    judge = CommonLoss(load(content), load(style))
    steps, checkpoints, elapsed = [], [], 0.0
    for i in range(1, iterations + 1):
        t = time.perf_counter()
        artist.draw()
        dt = time.perf_counter() - t
        steps.append(dt)
        elapsed += dt
        if i % 10 == 0 or i == iterations:
            x = artist.pastiche.detach()[0].clone()
            for c, mean in enumerate(VGG_MEAN):
                x[c] += mean
            rgb = (x.flip(0) / 255).clamp(0, 1)[None]
            checkpoints.append((elapsed + setup, i, judge(rgb)))
    return {"setup": setup, "steps": steps, "checkpoints": checkpoints}


def run_impasto(content: Path, style: Path, iterations: int, size: int, target: float | None) -> dict:
    from impasto.methods.base import JobContext, LRUCache, MethodInput, StyleSource
    from impasto.methods.gatys import Gatys

    method = Gatys()
    judge = CommonLoss(load(content), load(style))
    params = {p.name: p.default for p in method.params}
    params.update(size=size, tv_weight=0.0, steps=iterations)
    steps, checkpoints = [], []
    clock = {"start": time.perf_counter(), "excluded": 0.0, "last": time.perf_counter()}

    def now() -> float:
        return time.perf_counter() - clock["start"] - clock["excluded"]

    def report(stage: str, step: int, total: int, loss: float) -> None:
        t = time.perf_counter()
        steps.append((stage, t - clock["last"]))
        clock["last"] = t

    def preview(image: torch.Tensor, step: int) -> None:
        t = time.perf_counter()
        checkpoints.append((now(), step, judge(image)))
        clock["excluded"] += time.perf_counter() - t
        clock["last"] = time.perf_counter()

    ctx = JobContext(torch.device("cpu"), LRUCache(), LRUCache(), report=report, send_preview=preview, preview_every=10)
    job = MethodInput(load(content), [StyleSource(1.0, load(style), key="style")], params)
    clock["start"] = clock["last"] = time.perf_counter()
    method.run(job, ctx)
    final_stage = steps[-1][0]
    return {
        "steps": [dt for stage, dt in steps if stage == final_stage],
        "checkpoints": checkpoints,
        "levels": sorted({stage for stage, _ in steps}),
    }


def child(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    if args.which == "pastiche":
        out = run_pastiche(Path(args.content), Path(args.style), args.iterations, args.size)
    else:
        from impasto.runtime.allocator import keep_freed_memory

        keep_freed_memory()  # as the daemon does on CPU
        out = run_impasto(Path(args.content), Path(args.style), args.iterations, args.size, None)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def spawn(which: str, content: Path, style: Path, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        which,
        "--content",
        str(content),
        "--style",
        str(style),
        "--iterations",
        str(args.iterations),
        "--size",
        str(args.size),
        "--threads",
        str(args.threads),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def first_time_at(checkpoints: list, target: float) -> float | None:
    return next((t for t, _, loss in checkpoints if loss <= target), None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--child", choices=("pastiche", "impasto"))
    parser.add_argument("--which", dest="which")
    parser.add_argument("--content")
    parser.add_argument("--style")
    args = parser.parse_args()
    if args.child:
        args.which = args.child
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        content, style = prepare(Path(tmp), args.size)
        p = spawn("pastiche", content, style, args)
        i = spawn("impasto", content, style, args)
    target = p["checkpoints"][-1][2]
    p_time = p["checkpoints"][-1][0]
    i_time = first_time_at(i["checkpoints"], target)
    p_step = statistics.median(p["steps"])
    i_step = statistics.median(i["steps"])
    rows = [
        ("seconds per iteration at full size (median)", f"{p_step:.3f}", f"{i_step:.3f}", f"{i_step / p_step:.2f}"),
        (
            f"time to pastiche's loss after {args.iterations} iterations ({target:.4g})",
            f"{p_time:.1f} s",
            f"{i_time:.1f} s" if i_time is not None else "not reached",
            f"{i_time / p_time:.2f}" if i_time else "-",
        ),
        (
            "peak memory (max RSS)",
            f"{p['peak_rss_mb']:.0f} MB",
            f"{i['peak_rss_mb']:.0f} MB",
            f"{i['peak_rss_mb'] / p['peak_rss_mb']:.2f}",
        ),
        ("final common loss", f"{target:.4g}", f"{i['checkpoints'][-1][2]:.4g}", ""),
    ]
    print(f"\n{args.size} px, {args.threads} threads, impasto levels: {', '.join(i['levels'])}\n")
    print("| measure | pastiche | impasto | impasto / pastiche |\n| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
