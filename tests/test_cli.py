"""The impasto command as a newcomer uses it: stylize files, list methods, and clear errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import scene, stripes


def impasto(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "impasto", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "content": tmp_path / "content.png",
        "style": tmp_path / "style.png",
        "mask": tmp_path / "mask.png",
        "small_mask": tmp_path / "small.png",
        "broken": tmp_path / "broken.png",
    }
    Image.fromarray(scene(40, 56)).save(paths["content"])
    Image.fromarray(stripes(32, 32)).save(paths["style"])
    mask = np.zeros((40, 56), np.uint8)
    mask[10:30, 10:40] = 255
    Image.fromarray(mask).save(paths["mask"])
    Image.fromarray(mask[:20]).save(paths["small_mask"])
    paths["broken"].write_bytes(b"not a png at all")
    return paths


def test_stylize_with_the_daemon(files, daemon, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    done = impasto(
        "stylize",
        str(files["content"]),
        "--style",
        str(files["style"]),
        "--size",
        "40",
        "--steps",
        "3",
        "--set",
        "coarse_steps=0",
        "--mask",
        str(files["mask"]),
        "--preserve-color",
        "luminance",
        "-o",
        str(out),
        "--server",
        daemon.address,
    )
    assert done.returncode == 0, done.stderr
    result = np.asarray(Image.open(out))
    assert result.shape == (40, 56, 3)
    assert np.array_equal(result[:10], scene(40, 56)[:10])


def test_quiet_prints_nothing_but_errors(files, daemon, tmp_path: Path) -> None:
    """Into a pipe (a log), progress comes as a line every 10 s and the last step's line; --quiet: only errors."""
    common = [str(files["content"]), "--style", str(files["style"]), "--size", "40", "--steps", "3"]
    common += ["--set", "coarse_steps=0", "--set", "detail=fast", "--server", daemon.address]
    talking = impasto("stylize", *common, "-o", str(tmp_path / "a.png"))
    assert talking.returncode == 0 and "3/3" in talking.stderr, talking.stderr
    quiet = impasto("stylize", *common, "-o", str(tmp_path / "b.png"), "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == quiet.stdout == "", quiet.stderr
    assert (tmp_path / "b.png").is_file()


def test_stylize_without_a_daemon_runs_one_in_process(files, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    done = impasto(
        "stylize",
        str(files["content"]),
        "--style",
        f"{files['style']}=1",
        "--size",
        "32",
        "--steps",
        "2",
        "--set",
        "coarse_steps=0",
        "-o",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (56, 40)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["{broken}", "--style", "{style}"], "cannot read"),
        (["{missing}", "--style", "{style}"], "no such file"),
        (["{content}", "--style", "{style}", "--method", "cubism"], "no method 'cubism'"),
        (["{content}", "--style", "{style}", "--steps", "-3"], "'steps' must be at least 1"),
        (["{content}", "--style", "{style}", "--set", "style_weight=lots"], "'style_weight' must be a number"),
        (["{content}", "--style", "{style}", "--set", "nonsense"], "use KEY=VALUE"),
        (["{content}", "--style", "{style}", "--mask", "{small_mask}"], "same size"),
        (["{content}", "--style", "missing.png"], "no such file"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(files, daemon, tmp_path: Path, args, needle) -> None:
    paths = {k: str(v) for k, v in files.items()} | {"missing": str(tmp_path / "nope.png")}
    argv = [a.format(**paths) for a in args]
    done = impasto("stylize", *argv, "-o", str(tmp_path / "o.png"), "--server", daemon.address)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("impasto: "), done.stderr
    assert needle in lines[0]
    assert "Traceback" not in done.stderr


def test_unreachable_server_is_a_clear_error(files, tmp_path: Path) -> None:
    done = impasto(
        "stylize",
        str(files["content"]),
        "--style",
        str(files["style"]),
        "-o",
        str(tmp_path / "o.png"),
        "--server",
        "127.0.0.1:1",
    )
    assert done.returncode == 2 and "no impasto daemon answers" in done.stderr


def test_methods_and_styles_json(daemon) -> None:
    done = impasto("methods", "--json", "--server", daemon.address)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    methods = {m["name"]: m for m in listed["methods"]}
    assert "gatys" in methods and any(p["name"] == "steps" for p in methods["gatys"]["params"])
    # The device section says what `precision: auto` is here, and why.
    device = listed["device"]
    assert device["name"] == "cpu" and device["auto_precision"] in ("float32", "bfloat16") and device["model"]
    assert device["precision_reason"].startswith(("measured: bfloat16", "no native bfloat16"))
    done = impasto("styles", "--json", "--server", daemon.address)
    assert done.returncode == 0 and isinstance(json.loads(done.stdout), list)
