"""Shared fixtures: a real daemon on a loopback port and the real thin client."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from impasto.serving.daemon import Config, Daemon
from impasto_client import Client, Image, Layout, SampleType


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "editors: drives a real Krita or GIMP (installed by .ci/run)")
    # The user's own models (trained styles, decoders) must neither change what the tests see nor be touched by
    # them: every test starts from an empty models directory unless it sets its own.
    os.environ["IMPASTO_MODELS_DIR"] = tempfile.mkdtemp(prefix="impasto-test-models-")


def require_tool(name: str) -> str:
    """The tool's path; skips the test where it is missing, unless CI demands every editor."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("IMPASTO_REQUIRE_EDITORS"):
            pytest.fail(f"{name} is not installed but IMPASTO_REQUIRE_EDITORS is set")
        pytest.skip(f"{name} is not installed (see .ci/run for how CI installs it)")
    return path


@dataclass
class RemoteDaemon:
    """A daemon as a remote GPU box runs it (TLS and a token), with the files a client needs to reach it."""

    address: str
    ca: Path
    token: Path
    wrong_token: Path


@pytest.fixture(scope="session")
def tls_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteDaemon]:
    from impasto.serving.auth import write_token

    from .pki import make_ca, make_server_cert

    folder = tmp_path_factory.mktemp("tls-daemon")
    cert, key = make_server_cert(folder, make_ca(folder), "daemon", "127.0.0.1")
    write_token(folder / "token")
    (folder / "wrong-token").write_text("not-the-token\n")
    d = Daemon(Config(port=0, tls_cert=cert, tls_key=key, token_file=folder / "token")).start()
    yield RemoteDaemon(d.address, folder / "ca.pem", folder / "token", folder / "wrong-token")
    d.stop(grace=0.5)


@pytest.fixture(scope="session")
def daemon() -> Iterator[Daemon]:
    d = Daemon(Config(port=0, max_queue=4)).start()
    yield d
    d.stop(grace=1.0)


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Client]:
    with Client(daemon.address) as c:
        yield c


def rgb_image(array: np.ndarray, sample_type: SampleType = SampleType.UINT8) -> Image:
    """A wire image from an H×W×C array (C = 1..4)."""
    layout = {1: Layout.GRAY, 2: Layout.GRAY_ALPHA, 3: Layout.RGB, 4: Layout.RGBA}[array.shape[-1]]
    dtype = {SampleType.UINT8: "u1", SampleType.UINT16: "<u2", SampleType.FLOAT32: "<f4"}[sample_type]
    return Image(array.shape[1], array.shape[0], layout, sample_type, np.ascontiguousarray(array, dtype).tobytes())


def as_array(image: Image) -> np.ndarray:
    dtype = {SampleType.UINT8: "u1", SampleType.UINT16: "<u2", SampleType.FLOAT32: "<f4"}[image.sample_type]
    return np.frombuffer(image.data, dtype).reshape(image.height, image.width, image.layout.channels)


def scene(height: int = 64, width: int = 64, seed: int = 0) -> np.ndarray:
    """A small photo-like RGB uint8 picture: smooth gradients, a disc and a bar."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    img = np.stack([0.3 + 0.5 * xx, 0.2 + 0.6 * yy, 0.6 - 0.3 * xx * yy], -1)
    disc = (xx - 0.55) ** 2 + (yy - 0.45) ** 2 < 0.05
    img[disc] = (0.9, 0.7, 0.2)
    img[int(height * 0.7) : int(height * 0.8), :] = (0.2, 0.3, 0.8)
    img += rng.normal(0, 0.02, img.shape)
    return (img.clip(0, 1) * 255).round().astype(np.uint8)


def stripes(height: int = 64, width: int = 64, period: int = 8) -> np.ndarray:
    """A bold red/blue diagonal-stripe texture: a style whose Grams differ clearly from scene()'s."""
    yy, xx = np.mgrid[0:height, 0:width]
    band = ((xx + yy) // (period // 2)) % 2 == 0
    img = np.where(band[..., None], (220, 30, 40), (20, 40, 200))
    return img.astype(np.uint8)


def region_pair(n: int = 48) -> tuple[np.ndarray, Image, np.ndarray, np.ndarray]:
    """A region-pairing case: a uniform grey texture, a red-left/blue-right style picture, and label maps
    white on top (for the content) and white on the left (for the style)."""
    rng = np.random.default_rng(0)
    grey = (np.clip(0.5 + 0.15 * rng.standard_normal((n, n, 1)), 0, 1).repeat(3, -1) * 255).astype(np.uint8)
    red, blue = np.array([200, 40, 30]), np.array([30, 60, 200])
    style = np.where(np.arange(n)[None, :, None] < n // 2, red, blue) + rng.standard_normal((n, n, 1)) * 30
    top_white = np.where((np.arange(n) < n // 2)[:, None, None], 255, 0).repeat(n, 1).repeat(3, 2).astype(np.uint8)
    left_white = np.ascontiguousarray(top_white.transpose(1, 0, 2))
    return grey, rgb_image(np.clip(style, 0, 255).astype(np.uint8)), top_white, left_white


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_process(port: int, *args: str) -> tuple[subprocess.Popen, list[str]]:
    """`impasto serve` in its own process, once it listens, and the lines of its log as they come.

    Its stderr is read to the end by a thread: a pipe nobody reads fills up, and the daemon then blocks in its
    logging in the middle of a job.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "impasto", "serve", "--port", str(port), "--log-format", "text", *args],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "listening" in line:
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    ready.wait(120)
    if process.poll() is not None or not any("listening" in line for line in lines):
        process.kill()
        raise AssertionError(f"the daemon did not start: {''.join(lines[-5:])}")
    return process, lines
