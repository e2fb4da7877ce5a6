"""`impasto demo`: stylize the bundled sample photos so a newcomer sees the product work at once."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from impasto_client import Client, StylizeEvent

from .imaging.imagefiles import read_image, write_image
from .samples import SAMPLES


def _progress(label: str):
    def show(event: StylizeEvent) -> None:
        if event.kind == "progress" and event.total and (event.step % 10 == 0 or event.step == event.total):
            print(f"  {label}: {event.stage} {event.step}/{event.total}", file=sys.stderr, flush=True)

    return show


def run_demo(client: Client, out_dir: Path) -> Iterator[Path]:
    """Writes the demo results into out_dir, yielding each path as it is written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    content = read_image(SAMPLES / "chelsea.png")
    methods = {m.name for m in client.list_methods()}
    if "cin" in methods:
        result = client.stylize(content, ["cin26:7"], method="cin").result()
        write_image(result, out_dir / "chelsea-cin26-7.png")
        yield out_dir / "chelsea-cin26-7.png"
    plans = [
        ("swirls", "none", {"size": 256, "steps": 100, "coarse_steps": 50}),
        ("mosaic", "luminance", {"size": 256, "steps": 100, "coarse_steps": 50}),
    ]
    for style_name, preserve, params in plans:
        style = read_image(SAMPLES / f"{style_name}.png")
        label = f"gatys with {style_name}" + (", keeping colours" if preserve != "none" else "")
        print(f"stylizing chelsea.png: {label}", file=sys.stderr, flush=True)
        result = client.stylize(content, [style], method="gatys", params=params, preserve_color=preserve).result(
            _progress(label)
        )
        path = out_dir / f"chelsea-gatys-{style_name}{'-' + preserve if preserve != 'none' else ''}.png"
        write_image(result, path)
        yield path
