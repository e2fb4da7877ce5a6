"""Peak memory and time of tiled against untiled inference, each case in a fresh subprocess, on CPU.

    PYTHONPATH=server python benchmarks/tiled_memory.py [--tile 512] [--threads 2]
    PYTHONPATH=server python benchmarks/tiled_memory.py --fit

The default run shows cin tiled at 4096x4096 staying under 4 GB of peak RSS (getrusage ru_maxrss of the child, so
everything counts: Python, torch, weights, input and output), with untiled 1024 and 2048 for comparison. --fit
measures the peak a forward adds to the process at several sizes and tiles, for both networks, and prints the
least-squares constants of tiled.MEMORY that forward_auto estimates with.
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

GB = 1e9
DEFAULT_CASES = [("cin", 1024, 0), ("cin", 2048, 0), ("cin", 2048, None), ("cin", 4096, None)]
FIT_UNTILED = [768, 1024, 1536, 2048]
FIT_TILED = [(1024, 256), (2048, 256), (2048, 512), (2048, 1024), (3072, 512)]


def _rss(field: str) -> int:
    """VmRSS or VmHWM of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def child(network_name: str, size: int, tile: int, threads: int) -> None:
    """One forward, tile 0 meaning untiled; prints a JSON line with its time and memory."""
    import torch

    from impasto.networks import cin, magenta, tiled

    torch.set_num_threads(threads)
    if network_name == "cin":
        network, condition = cin.load_multistyle26(), cin.one_hot_style(3)
    else:
        network, condition = magenta.load_style_transformer(), torch.randn(1, magenta.STYLE_DIM)
    image = torch.rand(1, 3, size, size)

    def forward(x: torch.Tensor) -> torch.Tensor:
        if tile:
            return tiled.stylize_tiled(network, x, condition, tile)
        with torch.inference_mode():
            return network(x, condition)

    forward(torch.rand(1, 3, 64, 64))  # oneDNN initialises on the first call; that is not the forward's cost
    # Resetting the high-water mark isolates what the forward adds from load-time transients (Linux >= 4.0).
    Path("/proc/self/clear_refs").write_text("5")
    before = _rss("VmRSS")
    started = time.perf_counter()
    out = forward(image)
    seconds = time.perf_counter() - started
    result = {
        "network": network_name,
        "size": size,
        "tile": tile,
        "seconds": seconds,
        "added": _rss("VmHWM") - before,
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # kilobytes on Linux
        "shape": list(out.shape),
    }
    print(json.dumps(result))


def run_case(network_name: str, size: int, tile: int, threads: int) -> dict:
    command = [sys.executable, __file__, "--child", network_name, str(size), str(tile), "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{network_name} {size} tile {tile} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(tile: int, threads: int) -> None:
    rows = []
    for network_name, size, case_tile in DEFAULT_CASES:
        result = run_case(network_name, size, tile if case_tile is None else case_tile, threads)
        rows.append(result)
        print(f"  done: {network_name} {size} tile {result['tile'] or '-'}", file=sys.stderr)
    print(f"CPU, {threads} threads, one run each in a fresh process\n")
    print("| network | size | mode | wall s | peak RSS GB | added by forward GB |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        mode = f"tiled {r['tile']}" if r["tile"] else "untiled"
        size = f"{r['size']}x{r['size']}"
        added, maxrss = r["added"] / GB, r["maxrss"] / GB
        print(f"| {r['network']} | {size} | {mode} | {r['seconds']:.1f} | {maxrss:.2f} | {added:.2f} |")
    biggest = rows[-1]
    verdict = "under" if biggest["maxrss"] < 4 * GB else "OVER"
    print(f"\n{biggest['size']}x{biggest['size']} tiled peak RSS {biggest['maxrss'] / GB:.2f} GB: {verdict} 4 GB")


def fit(threads: int) -> None:
    """Least-squares fits of the bytes a forward adds, per padded pixel (and per tile pixel when tiled)."""
    for network_name in ("cin", "magenta"):
        untiled = [run_case(network_name, size, 0, threads) for size in FIT_UNTILED]
        tiled_runs = [run_case(network_name, size, tile, threads) for size, tile in FIT_TILED]
        a = np.array([[1.0, r["size"] ** 2] for r in untiled])
        (fixed, per_pixel), *_ = np.linalg.lstsq(a, np.array([r["added"] for r in untiled]), rcond=None)
        b = np.array([[1.0, r["size"] ** 2, r["tile"] ** 2] for r in tiled_runs])
        (t_fixed, t_pixel, t_tile), *_ = np.linalg.lstsq(b, np.array([r["added"] for r in tiled_runs]), rcond=None)
        print(f"{network_name}: untiled {fixed / 1e6:.0f} MB + {per_pixel:.1f} B/px; ", end="")
        print(f"tiled {t_fixed / 1e6:.0f} MB + {t_pixel:.1f} B/px + {t_tile:.1f} B/tile px")
        for r in untiled + tiled_runs:
            model = fixed + per_pixel * r["size"] ** 2
            if r["tile"]:
                model = t_fixed + t_pixel * r["size"] ** 2 + t_tile * r["tile"] ** 2
            print(f"  {r['size']:5d} tile {r['tile']:5d}: added {r['added'] / 1e6:7.0f} MB, fit {model / 1e6:7.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tile", type=int, default=512, help="tile side of the tiled cases (full-resolution px)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fit", action="store_true", help="fit tiled.MEMORY instead of the default report")
    parser.add_argument("--child", nargs=3, metavar=("NETWORK", "SIZE", "TILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]), args.threads)
    elif args.fit:
        fit(args.threads)
    else:
        report(args.tile, args.threads)


if __name__ == "__main__":
    main()
