"""Seconds per gatys job with OpenMP threads that spin or sleep while they wait, on an idle and a busy machine.

A real daemon is started for each setting of OMP_WAIT_POLICY (the daemon defaults to PASSIVE; ACTIVE spins) and
runs the sample pair (chelsea / swirls) at one level, no pyramid; "busy" adds one process doing single-threaded
matrix products beside it, as an editor redrawing or a training run would. Medians of the jobs after the first.

    PYTHONPATH=server:plugins/client python benchmarks/thread_waiting.py [--sizes 48,160] [--steps 30] [--jobs 4]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image as PILImage

from impasto_client import Client, Image, Layout, SampleType

SAMPLES = Path(__file__).resolve().parent.parent / "server" / "impasto" / "samples"
# A single-threaded convolution loop, as a training run or an editor's filter keeps one core busy.
BUSY = (
    "import torch\ntorch.set_num_threads(1)\nx, w = torch.rand(1, 64, 96, 96), torch.rand(64, 64, 3, 3) / 500\n"
    "while True:\n    x = torch.nn.functional.conv2d(x, w, padding=1).tanh()\n"
)


def picture(name: str, size: int) -> Image:
    image = PILImage.open(SAMPLES / name).convert("RGB")
    image = image.resize((size, round(size * image.height / image.width)), PILImage.BICUBIC)
    return Image(image.width, image.height, Layout.RGB, SampleType.UINT8, image.tobytes())


def job_seconds(policy: str, busy: bool, size: int, steps: int, jobs: int) -> float:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "impasto", "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    competitor = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
    try:
        with Client(f"127.0.0.1:{port}", timeout=120) as client:
            assert client.wait_ready(120), "the daemon did not start"
            content, style = picture("chelsea.png", size), picture("swirls.png", size)
            times = []
            for _ in range(jobs):
                start = time.monotonic()
                params = {"size": size, "steps": steps, "coarse_steps": 0}
                client.stylize(content, [style], params=params).result()
                times.append(time.monotonic() - start)
        return statistics.median(times[1:])
    finally:
        for process in (daemon, competitor):
            if process is not None:
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="48,160", help="picture sizes, comma-separated")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args()
    print(
        "| size | machine | ACTIVE (spin) s | PASSIVE (sleep) s | PASSIVE / ACTIVE |\n| --- | --- | --- | --- | --- |"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        for busy in (False, True):
            active = job_seconds("ACTIVE", busy, size, args.steps, args.jobs)
            passive = job_seconds("PASSIVE", busy, size, args.steps, args.jobs)
            state = "busy" if busy else "idle"
            print(f"| {size} px | {state} | {active:.2f} | {passive:.2f} | {passive / active:.2f} |", flush=True)


if __name__ == "__main__":
    main()
