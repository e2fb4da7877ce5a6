"""How hard each style statistic pulls the pixels at the same weight: the gradient of its style loss (gatys's layers
and layer weights) with respect to the picture, at the start of an optimisation, against the Gram loss's. What
`losses/style.py: PULL` is set from, so that a `style_weight` means the same pull whichever `style_loss` is chosen.

    PYTHONPATH=server:plugins/client python benchmarks/style_pull.py [--size 256] [--raw]

Pairs: the held-out photos of the quality suite (mate-backgrounds) with the suite's drawn styles and the bundled
samples, none a test fixture. For each pair and statistic: ‖∇ loss‖ at the content and at the content in the style's
palette (gatys's start); the table gives the median over pairs and starts of ‖∇ gram‖ / ‖∇ statistic‖, with its
spread. With --raw the statistics are taken as they are; without it, as the project scales them (after PULL: all
near 1 when PULL is right).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from measures import cpu_model, load
from pictures import gravel, strokes, tartan

from impasto.imaging.color import in_palette
from impasto.imaging.resample import fit_longest_side, resize
from impasto.losses.perceptual import DEFAULT_STYLE_LAYERS
from impasto.losses.style import PULL, STATISTICS, StyleLoss, style_targets
from impasto.networks.vgg import LAYER_NAMES, load_vgg19, parse_layers
from impasto.samples import SAMPLES

PHOTOS = [Path("/usr/share/backgrounds/mate/nature") / n for n in ("Aqua.jpg", "Wood.jpg", "TwoWings.jpg")]


def drawn(array) -> torch.Tensor:
    return torch.from_numpy(array.astype("float32") / 255).permute(2, 0, 1)[None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--raw", action="store_true", help="without PULL")
    args = parser.parse_args()
    vgg = load_vgg19()
    layers = parse_layers(DEFAULT_STYLE_LAYERS, "style_layers")
    names = tuple(sorted(layers, key=LAYER_NAMES.index))
    styles = {
        "strokes": drawn(strokes(512, 512, seed=3)),
        "gravel": drawn(gravel(512, 512, seed=3)),
        "tartan": drawn(tartan(512, 512, ((200, 60, 40), (30, 40, 90), (230, 210, 150)), seed=3)),
        "mosaic": load(SAMPLES / "mosaic.png", 512),
        "swirls": load(SAMPLES / "swirls.png", 512),
    }
    ratios: dict[str, list[float]] = {kind: [] for kind in STATISTICS}
    for photo in [p for p in PHOTOS if p.is_file()]:
        content = load(photo, args.size)
        for style_name, style in styles.items():
            style = resize(style, *fit_longest_side(*style.shape[-2:], args.size))
            with torch.no_grad():
                style_features = vgg(style, names)
            for start in (content, in_palette(content, [(1.0, style)])):
                norms = {}
                for kind in STATISTICS:
                    loss = StyleLoss(
                        {kind: 1.0 if args.raw else PULL[kind]},
                        layers,
                        [style_targets({kind: STATISTICS[kind]()}, style_features, None, 1)],
                        [1.0],
                    )
                    x = vgg.preprocess(start).requires_grad_(True)
                    value = loss({k: v.float() for k, v in vgg.features(x, names).items()})
                    (grad,) = torch.autograd.grad(value, x)
                    norms[kind] = float(grad.norm())
                for kind in STATISTICS:
                    ratios[kind].append(norms["gram"] / norms[kind])
            shown = ", ".join(f"{k} {norms['gram'] / v:.3g}" for k, v in norms.items())
            print(f"{photo.name} / {style_name}: {shown}")
    print(f"\n{cpu_model()}; {args.size} px; {'raw' if args.raw else 'after PULL'}\n")
    print("| statistic | gram pull / its pull: median | min | max |")
    print("| --- | --- | --- | --- |")
    for kind, values in ratios.items():
        print(f"| {kind} | {statistics.median(values):.3g} | {min(values):.3g} | {max(values):.3g} |")


if __name__ == "__main__":
    main()
