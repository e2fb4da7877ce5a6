"""Methods are plugins: a package that registers under `impasto.methods` is listed, run and shown like a
built-in one, and a broken one is skipped with one log line while the daemon still starts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from impasto.methods.base import Method
from impasto.methods.registry import MethodSchemaError, check_method, load_methods
from impasto.params import Param
from impasto_client import Client

from .conftest import as_array, rgb_image, scene, stripes

PLUGIN = Path(__file__).parent / "method_plugin" / "impasto_posterize"
ENTRY_POINTS = """\
[impasto.methods]
posterize = impasto_posterize:Posterize
bad_schema = impasto_posterize:BadSchema
missing_module = impasto_posterize_gone:Method
gatys = impasto_posterize:Posterize
"""


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A temporary distribution on PYTHONPATH, as `pip install impasto-posterize` would leave one."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(PLUGIN, site / PLUGIN.name)
    info = site / "impasto_posterize-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: impasto-posterize\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def plugin_daemon(plugin_env: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """`impasto serve` in a process that sees the plugin; its address and the log lines it wrote at start."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "impasto", "serve", "--port", "0", "--log-format", "text"],
        env=plugin_env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            found = re.search(r"listening on (\S+)", line)
            if found:
                yield found.group(1), lines
                break
        else:
            pytest.fail("the daemon exited before listening:\n" + "\n".join(lines))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_third_party_method_is_listed_beside_the_built_ins(plugin_daemon, daemon) -> None:
    address, _ = plugin_daemon
    with Client(address) as client:
        methods = client.list_methods()
    with Client(daemon.address) as plain:
        built_in = [m.name for m in plain.list_methods()]
    names = [m.name for m in methods]
    assert names == [*built_in, "posterize"]
    posterize = next(m for m in methods if m.name == "posterize")
    assert posterize.title == "Posterize (example plugin)"
    levels = next(p for p in posterize.params if p.name == "levels")
    assert (levels.default, levels.minimum, levels.maximum) == (4, 2, 16)


def test_each_broken_method_is_skipped_with_one_log_line(plugin_daemon) -> None:
    _, lines = plugin_daemon
    skipped = [line for line in lines if "skipped" in line]
    assert len(skipped) == 3, lines
    bad, missing, clash = (
        next(line for line in skipped if f"method '{n}'" in line) for n in ("bad_schema", "missing_module", "gatys")
    )
    assert "default" in bad and "impasto-posterize" in bad
    assert "ModuleNotFoundError" in missing and "impasto_posterize_gone" in missing
    assert "already registered" in clash
    assert not any(line.startswith("Traceback") for line in lines)


def test_the_daemon_runs_a_third_party_method(plugin_daemon) -> None:
    address, _ = plugin_daemon
    content = scene(24, 32)
    with Client(address) as client:
        result = as_array(
            client.stylize(
                rgb_image(content), [rgb_image(stripes(16, 16))], method="posterize", params={"levels": 2}
            ).result()
        )
    assert result.shape == content.shape
    for c in range(3):
        assert len(np.unique(result[..., c])) <= 2


def test_the_cli_runs_a_third_party_method_in_process(plugin_env: dict[str, str], tmp_path: Path) -> None:
    Image.fromarray(scene(24, 32)).save(tmp_path / "photo.png")
    Image.fromarray(stripes(16, 16)).save(tmp_path / "style.png")
    out = tmp_path / "out.png"
    done = subprocess.run(
        [sys.executable, "-m", "impasto", "stylize", str(tmp_path / "photo.png"),
         "--style", str(tmp_path / "style.png"), "--method", "posterize",
         "--set", "levels=3", "--set", "tint=0", "-o", str(out), "--quiet"],
        env=plugin_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = np.asarray(Image.open(out))
    assert result.shape == (24, 32, 3)
    assert set(np.unique(result)) <= {0, 127, 128, 255}


def test_without_the_plugin_the_built_ins_alone_are_found() -> None:
    assert "posterize" not in load_methods()
    assert list(load_methods())[:2] == ["gatys", "photo"]


class _Declared(Method):
    name = "declared"
    title = "Declared"
    description = "A method declaration to break one field at a time."
    params = (Param("amount", "float", 0.5, "How much", 0.0, 1.0),)

    def run(self, job, ctx):
        return job.content


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"name": "other"}, "differs from its entry point"),
        ({"title": None}, "'title' must be text"),
        ({"max_styles": -1}, "max_styles"),
        ({"takes_mask": "yes"}, "takes_mask"),
        ({"params": (Param("amount", "float", 2.0, "", 0.0, 1.0),)}, "default"),
        ({"params": (Param("amount", "float", 0.5, ""), Param("amount", "int", 1, ""))}, "declared twice"),
        ({"params": (Param("mode", "choice", "a", ""),)}, "needs choices"),
        ({"params": (Param("bad name", "int", 1, ""),)}, "identifier"),
        ({"params": (Param("amount", "float", 0.5, "", 0.0, float("inf")),)}, "finite"),
        ({"params": ("amount",)}, "not an impasto Param"),
        ({"run": Method.run}, "run()"),
    ],
)
def test_a_bad_declaration_is_refused_with_its_reason(change: dict, needle: str) -> None:
    check_method(_Declared(), "declared")
    broken = type("Broken", (_Declared,), change)()
    with pytest.raises(MethodSchemaError, match=re.escape(needle)):
        check_method(broken, "declared")
