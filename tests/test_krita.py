"""The Krita plugin: its pixel glue and installer here, and every action inside a real Krita.

The `editors` tests install the plugin with the real installer into a throw-away
HOME, start Krita 5 under a private Xvfb with the plugin and a test driver
(tests/krita/impasto_krita_test) enabled, and let the driver run all scenarios
against the session's daemon in one Krita session. The driver writes
report.json and raw pixel dumps; the checks are made here. Styles the scenarios
train go to a throw-away models folder (IMPASTO_MODELS_DIR, which the daemon in
this process reads at each call), never the user's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from impasto.install.krita import enable_in_kritarc, install, write_zip
from impasto_client import Client, Image, Layout, SampleType, TrainEvent

from .conftest import require_tool, stripes

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins" / "krita"))

from impasto_krita import StylizeError, pixels, training  # noqa: E402

KRITA_TIMEOUT = 200  # every scenario, three tiny trainings among them, in one Krita session
LAYER_RECT = (4, 4, 52, 38)  # as in tests/krita/impasto_krita_test
SELECTION = (16, 12, 24, 18)
DTYPES = {"U8": "u1", "U16": "<u2", "F16": "<f2", "F32": "<f4"}


# ---------------------------------------------------------------- pixel glue, no Krita needed


def krita_pixels(depth: str, rgba: list[tuple[float, float, float, float]]) -> bytes:
    out = b""
    for r, g, b, a in rgba:
        if depth == "U8":
            out += bytes(round(v * 255) for v in (b, g, r, a))
        elif depth == "U16":
            out += struct.pack("<4H", *(round(v * 65535) for v in (b, g, r, a)))
        elif depth == "F16":
            out += struct.pack("<4e", r, g, b, a)
        else:
            out += struct.pack("<4f", r, g, b, a)
    return out


@pytest.mark.parametrize("depth", ["U8", "U16", "F16", "F32"])
@pytest.mark.parametrize("profile", ["sRGB-elle-V2-srgbtrc.icc", "sRGB-elle-V2-g10.icc"])
def test_pixels_round_trip_and_channel_order(depth: str, profile: str) -> None:
    fmt = pixels.PixelFormat("RGBA", depth, profile)
    colours = [(1.0, 0.0, 0.0, 1.0), (0.0, 0.5, 1.0, 0.25), (0.2, 0.4, 0.6, 0.0)]
    raw = krita_pixels(depth, colours)
    wire = pixels.to_wire(raw, 3, 1, fmt)
    assert wire.layout == Layout.RGBA and wire.sample_type == fmt.sample_type
    first = np.frombuffer(wire.data, {1: "u1", 2: "<u2", 3: "<f4"}[int(wire.sample_type)])[:4].astype(float)
    assert first[0] > 0 and first[1] == 0 and first[2] == 0, "red must come first on the wire"
    back = pixels.from_wire(wire, fmt)
    if fmt.linear:
        # The sRGB curve's round trip is exact to within one 16-bit step or float rounding.
        a = np.frombuffer(back, DTYPES[depth]).astype(float)
        b = np.frombuffer(raw, DTYPES[depth]).astype(float)
        assert np.allclose(a, b, atol=1.5 if depth == "U16" else 1e-3)
    else:
        assert back == raw


def test_linear_profiles_are_encoded_for_the_daemon() -> None:
    fmt = pixels.PixelFormat("RGBA", "F32", "sRGB-elle-V2-g10.icc")
    wire = pixels.to_wire(struct.pack("<4f", 0.2140, 0.0, 1.0, 1.0), 1, 1, fmt)
    r, g, b, a = struct.unpack("<4f", wire.data)
    assert abs(r - 0.5) < 1e-3 and g == 0 and abs(b - 1) < 1e-6 and a == 1  # linear 0.214 is sRGB 0.5
    assert not pixels.PixelFormat("RGBA", "U8", "sRGB-elle-V2-g10.icc").linear


@pytest.mark.parametrize("depth", ["U8", "U16", "F16", "F32"])
def test_cut_to_selection_scales_alpha_by_coverage(depth: str) -> None:
    raw = krita_pixels(depth, [(0.5, 0.5, 0.5, 1.0)] * 4)
    cut = pixels.cut_to_selection(raw, bytes([0, 255, 128, 0]), depth)
    alpha = np.frombuffer(cut, DTYPES[depth]).astype(float)[3::4]
    full = {"U8": 255, "U16": 65535}.get(depth, 1.0)
    assert np.allclose(alpha / full, [0, 1, 128 / 255, 0], atol=2e-3)
    colour = np.frombuffer(cut, DTYPES[depth]).reshape(4, 4)[:, :3]
    assert np.array_equal(colour, np.frombuffer(raw, DTYPES[depth]).reshape(4, 4)[:, :3])


def test_restore_unselected_and_masks() -> None:
    original = bytes(range(16))
    result = bytes([200] * 16)
    assert pixels.restore_unselected(result, original, bytes([0, 9, 255, 0]), 4) == (
        original[:4] + result[4:12] + original[12:]
    )
    assert pixels.binarize(bytes([0, 1, 128, 255])) == bytes([0, 255, 255, 255])
    assert pixels.is_empty(bytes(5)) and not pixels.is_empty(bytes([0, 1]))
    assert pixels.is_full(b"\xff" * 3) and not pixels.is_full(b"\xff\xfe")


def test_unsupported_colour_spaces_are_explained() -> None:
    for model, depth in (("GRAYA", "U8"), ("CMYKA", "U8"), ("RGBA", "U32")):
        with pytest.raises(pixels.UnsupportedColorSpace, match="Convert Image Color Space"):
            pixels.check_supported(model, depth)


def test_previews_become_rgba8() -> None:
    image = Image(2, 1, Layout.RGB, SampleType.FLOAT32, array("f", [1, 0, 0, 0, 0.5, 1]).tobytes())
    assert pixels.to_rgba8(image) == bytes([255, 0, 0, 255, 0, 128, 255, 255])
    gray = Image(1, 1, Layout.GRAY, SampleType.UINT16, struct.pack("<H", 65535))
    assert pixels.to_rgba8(gray) == bytes([255, 255, 255, 255])


def test_training_progress_is_described_for_painters() -> None:
    event = TrainEvent(
        "progress", step=12, total=200, losses={"style": 3.0, "content": 1.25}, steps_per_second=0.5, eta_seconds=376
    )
    text, details, value, maximum = training.describe_training(event)
    assert (text, value, maximum) == ("Training: step 12/200", 12, 200)
    assert details == "loss 4.25 (style 3, content 1.25) · 0.5 steps/s · about 6 min 16 s left", details
    # No ETA before the daemon has timed a step, none at the end.
    assert "left" not in training.describe_training(TrainEvent("progress", step=1, total=3, eta_seconds=0))[1]
    assert "left" not in training.describe_training(TrainEvent("progress", step=3, total=3, eta_seconds=9))[1]
    assert training.describe_training(TrainEvent("progress", step=1, total=3, eta_seconds=0.4))[1] == (
        "under a second left"
    )
    done = training.describe_training(TrainEvent("model", style_id="cin:x", method="cin", seconds=75))
    assert done == ("Trained cin:x in 1 min 15 s", "", 1, 1)
    assert training.describe_training(TrainEvent("preview"))[2] == -1
    assert training.format_duration(2 * 3600 + 5 * 60 + 9) == "2 h 05 min"


def test_training_choices_are_checked_before_anything_runs() -> None:
    assert training.check_choices("My sunset, v2", "quick") == "My-sunset-v2"
    for name, effort, code in (("", "quick", "INVALID_ARGUMENT"), ("x", "perfect", "INVALID_ARGUMENT")):
        with pytest.raises(StylizeError) as err:
            training.check_choices(name, effort)
        assert err.value.code == code


def test_enable_in_kritarc_keeps_other_settings(tmp_path: Path) -> None:
    rc = tmp_path / "kritarc"
    rc.write_text("[General]\nfoo=bar\n\n[python]\nenable_other=true\nenable_impasto_krita=false\n")
    enable_in_kritarc(rc)
    text = rc.read_text()
    assert "enable_impasto_krita=true" in text and "enable_impasto_krita=false" not in text
    assert "foo=bar" in text and "enable_other=true" in text
    fresh = tmp_path / "new" / "kritarc"
    enable_in_kritarc(fresh)
    assert fresh.read_text() == "[python]\nenable_impasto_krita=true\n"


def test_installer_layout_and_enabling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[tuple[str, str]] = []
    monkeypatch.setattr(
        "impasto.install.vendor_runtime", lambda target, version, platform: fetched.append((version, platform))
    )
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    package = install(platform="linux")
    pykrita = tmp_path / "data" / "krita" / "pykrita"
    assert package == pykrita / "impasto_krita"
    assert (pykrita / "impasto_krita.desktop").read_text().count("X-KDE-Library=impasto_krita") == 1
    assert (package / "api.py").is_file() and (package / "vendor" / "impasto_client" / "client.py").is_file()
    assert not list(package.rglob("__pycache__"))
    assert fetched == [("3.11", "linux")]
    info = json.loads((package / "install.json").read_text())
    assert info["server_command"][-2:] == ["-m", "impasto"]
    assert "enable_impasto_krita=true" in (tmp_path / "config" / "kritarc").read_text()
    # Installing again replaces the package; --dest alone leaves kritarc alone.
    (tmp_path / "config" / "kritarc").unlink()
    install(dest=pykrita, platform="win32")
    assert fetched[-1] == ("3.10", "win32") and "server_command" not in json.loads(
        (package / "install.json").read_text()
    )
    assert not (tmp_path / "config" / "kritarc").exists()
    assert sorted(p.name for p in pykrita.iterdir()) == ["impasto_krita", "impasto_krita.desktop"]


# ---------------------------------------------------------------- real Krita


def closed_port_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """A private X server on a free display (Xvfb picks it), so parallel editor tests never collide."""
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as fh:
            display = fh.readline().strip()
    except Exception:
        xvfb.kill()
        raise
    if not display:
        xvfb.kill()
        raise RuntimeError("Xvfb did not report a display")
    return xvfb, f":{display}"


@pytest.fixture(scope="module")
def krita_report(daemon: Any, tls_daemon: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_tool("krita")
    require_tool("Xvfb")
    root = tmp_path_factory.mktemp("krita")
    # Until the module's checks are done: they ask the daemon which styles it lists.
    with pytest.MonkeyPatch.context() as env_patch:
        env_patch.setenv("IMPASTO_MODELS_DIR", str(root / "models"))
        yield run_krita(daemon, tls_daemon, root)


def import_with_kritas_importer(archive: Path, resources: Path) -> list[dict[str, Any]]:
    """Krita's own Tools ▸ Scripts ▸ Import Python Plugin from File code, run on `archive`."""
    krita = Path(require_tool("krita")).resolve()
    source = krita.parents[1] / "share" / "krita" / "pykrita" / "plugin_importer" / "plugin_importer.py"
    if not source.is_file():
        pytest.skip(f"this Krita has no plugin importer at {source}")
    spec = importlib.util.spec_from_file_location("krita_plugin_importer", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    resources.mkdir(parents=True, exist_ok=True)
    return module.PluginImporter(str(archive), str(resources), lambda plugin: True).import_all()


def run_krita(
    daemon: Any,
    tls_daemon: Any,
    root: Path,
    python_version: str = "3.11",
    only: str | None = None,
    via_zip: bool = False,
) -> dict[str, Any]:
    """Krita with the plugin installed for `python_version` (by the installer, or from the archive that
    `install-plugin krita --zip` writes through Krita's own importer), running the scenarios (`only` these)."""
    home, out = root / "home", root / "out"
    (home / "run").mkdir(parents=True)
    (home / "run").chmod(0o700)
    out.mkdir()
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    if via_zip:
        archive = write_zip(root / "impasto-krita.zip", python_version=python_version, platform="linux")
        imported = import_with_kritas_importer(archive, pykrita.parent)
        assert [plugin["name"] for plugin in imported] == ["impasto_krita"], imported
        package = pykrita / "impasto_krita"
    else:
        # The real installer, runtime wheels for Krita's Python included.
        package = install(dest=pykrita, python_version=python_version, platform="linux", enable=False)
    assert (package / "vendor" / "grpc").is_dir() and (package / "vendor" / "impasto_client").is_dir()
    assert (pykrita / "impasto_krita.desktop").is_file()
    shutil.copytree(REPO / "tests" / "krita" / "impasto_krita_test", pykrita / "impasto_krita_test")
    shutil.copy(REPO / "tests" / "krita" / "impasto_krita_test.desktop", pykrita)
    kritarc = home / ".config" / "kritarc"
    enable_in_kritarc(kritarc)
    with kritarc.open("a") as fh:
        fh.write(f"enable_impasto_krita_test=true\n\n[impasto]\naddress={daemon.address}\nautostart=false\n")
    style = root / "style.png"
    PILImage.fromarray(stripes(48, 48)).save(style)

    xvfb, display = start_xvfb()
    env = {
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "DISPLAY": display,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "IMPASTO_TEST_OUT": str(out),
        "IMPASTO_TEST_SERVER": daemon.address,
        "IMPASTO_TEST_DEAD": closed_port_address(),
        "IMPASTO_TEST_STYLE": str(style),
        "IMPASTO_TEST_TLS_SERVER": tls_daemon.address,
        "IMPASTO_TEST_CA": str(tls_daemon.ca),
        "IMPASTO_TEST_TOKEN": str(tls_daemon.token),
        "IMPASTO_TEST_WRONG": str(tls_daemon.wrong_token),
    }
    if only or os.environ.get("IMPASTO_KRITA_ONLY"):
        env["IMPASTO_TEST_ONLY"] = only or os.environ["IMPASTO_KRITA_ONLY"]
    started = time.monotonic()
    try:
        done = subprocess.run(
            ["krita", "--nosplash"], env=env, capture_output=True, text=True, timeout=KRITA_TIMEOUT, check=False
        )
        krita_log = done.stdout + done.stderr
    except subprocess.TimeoutExpired as err:
        krita_log = f"Krita timed out after {KRITA_TIMEOUT} s\n{err.stdout or ''}{err.stderr or ''}"
    finally:
        xvfb.kill()
        xvfb.wait()
    report_path = out / "report.json"
    if not report_path.exists():
        pytest.fail(f"Krita wrote no report; its output ends:\n{krita_log[-4000:]}")
    report = json.loads(report_path.read_text())
    report["seconds"] = time.monotonic() - started
    report["krita_log"] = krita_log[-4000:]
    plugin_log = home / ".local" / "share" / "krita" / "impasto-logs" / "impasto_krita.log"
    report["plugin_log"] = plugin_log.read_text()[-4000:] if plugin_log.exists() else ""
    report["models_dir"] = str(root / "models")
    report["daemon_address"] = daemon.address
    return report


def scenario(report: dict[str, Any], name: str) -> dict[str, Any]:
    record = report["scenarios"].get(name)
    if record is None:
        pytest.fail(f"scenario {name} did not run (done={report.get('done')}): {report.get('fatal', '')}")
    assert record["ok"], f"scenario {name} failed inside Krita:\n{record.get('traceback')}\n{report['plugin_log']}"
    return record


def raw(record: dict[str, Any], key: str, depth: str) -> np.ndarray:
    data = Path(record["files"][key]).read_bytes()
    _, _, w, h = LAYER_RECT
    return np.frombuffer(data, DTYPES[depth]).reshape(h, w, 4).astype(np.float64)


def selection_mask(record: dict[str, Any]) -> np.ndarray:
    _, _, w, h = LAYER_RECT
    return np.frombuffer(Path(record["files"]["mask"]).read_bytes(), "u1").reshape(h, w) > 0


def assert_source_untouched(record: dict[str, Any]) -> None:
    before = Path(record["files"]["before_source"]).read_bytes()
    after = Path(record["files"]["after_source"]).read_bytes()
    assert before == after, "the source layer changed"


def assert_stylized_inside(record: dict[str, Any], depth: str) -> None:
    full = {"U8": 255.0, "U16": 65535.0}.get(depth, 1.0)
    result, source = raw(record, "result", depth), raw(record, "before_source", depth)
    inside = selection_mask(record) if "mask" in record["files"] else np.ones(result.shape[:2], bool)
    change = np.abs(result[inside, :3] - source[inside, :3]).mean() / full
    assert change > 0.01, f"the result barely differs from the source inside the selection ({change:.4f})"


def assert_new_layer_above(record: dict[str, Any], rect: tuple[int, int, int, int] = LAYER_RECT) -> None:
    assert record["new_type"] == "paintlayer"
    assert record["new_above_source"], record["after_layers"]
    assert record["source_rect"] == list(LAYER_RECT)
    assert record["new_rect"] == list(rect)
    assert len(record["after_layers"]) == len(record["before_layers"]) + 1


@pytest.mark.editors
def test_krita_plugin_ui_from_schema(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "ui")
    assert all(record["actions"].values()), record["actions"]
    assert record["docker"], "the impasto docker is not registered"
    assert record["catalog_error"] == "" and "gatys" in record["methods"]
    # One control per parameter in the daemon's schema, none hard-coded.
    assert record["param_controls"] == record["schema_params"] and "steps" in record["param_controls"]
    assert record["photo_visible"] is ("photo" in record["methods"])
    assert record["train_button"], "the docker has no Train a style… button"


@pytest.mark.editors
def test_krita_channel_order(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "channel_order")
    for depth, facts in record["colors"].items():
        r, g, b = facts["rendered"]
        assert r > 200 and g < 40 and b < 40, f"{depth}: the plugin's red shows as {facts['rendered']} in Krita"
        assert facts["round_trip"], f"{depth}: Krita → wire → Krita changed the pixels"


@pytest.mark.editors
def test_krita_active_layer_and_selection(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "active_layer")
    assert record["active_document_is_new"] and record["active_node"] == "Background"
    assert record["layers"] == ["Background", record["new_name"]]
    assert record["new_rect"] == [0, 0, 64, 48]
    assert record["source_untouched"] and record["outside_identical"]
    assert record["inside_changed"] > record["inside"] // 2


@pytest.mark.editors
def test_krita_selection_transparent_outside_and_undo(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "selection_transparent")
    # Krita's bounds are those of the opaque pixels: the selection's box within the source's.
    assert_new_layer_above(record, SELECTION)
    assert record["layers_docker"] == list(reversed(record["after_layers"])), "the Layers docker must show it"
    assert record["new_name"].startswith("gatys")
    assert_source_untouched(record)
    assert_stylized_inside(record, "U8")
    result, inside = raw(record, "result", "U8"), selection_mask(record)
    assert (result[~inside, 3] == 0).all(), "outside the selection the new layer must be transparent"
    assert (result[inside, 3] == 255).all()
    # One undo removes the layer and leaves the source as it was; redo brings the same pixels back.
    assert record["undone_layers"] == record["before_layers"]
    assert Path(record["files"]["undone_source"]).read_bytes() == Path(record["files"]["before_source"]).read_bytes()
    assert record["redo_layers"] == record["after_layers"]
    assert Path(record["files"]["redone"]).read_bytes() == Path(record["files"]["result"]).read_bytes()


@pytest.mark.editors
@pytest.mark.parametrize(("name", "depth"), [("u8_keep_colors", "U8"), ("u16_keep", "U16"), ("f16_keep", "F16")])
def test_krita_selection_identical_outside(krita_report: dict[str, Any], name: str, depth: str) -> None:
    record = scenario(krita_report, name)
    assert record["new_color_depth"] == depth
    assert_new_layer_above(record)
    assert_source_untouched(record)
    assert_stylized_inside(record, depth)
    result, source, inside = raw(record, "result", depth), raw(record, "before_source", depth), selection_mask(record)
    assert np.array_equal(result[~inside], source[~inside]), "outside the selection must be bit-identical"


@pytest.mark.editors
def test_krita_float_document_whole_layer(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "f32_layer")
    assert record["new_color_depth"] == "F32"
    assert_new_layer_above(record)
    assert_source_untouched(record)
    assert_stylized_inside(record, "F32")


@pytest.mark.editors
def test_krita_projection_and_layer_styles(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "projection")
    assert record["new_rect"] == [0, 0, 64, 48], "the visible image's result covers the canvas"
    assert record["layers"][-1] == record["new_name"], "the visible image's result goes on top"
    record = scenario(krita_report, "style_layer")
    assert record["new_name"] == "gatys · source + style", record["new_name"]
    assert record["layers"] == ["Background", "source", record["new_name"]]
    assert record["style_doc_layers"] == ["Background", "source"]


PAIR_RED, PAIR_BLUE = np.array([199, 41, 31]), np.array([31, 61, 199])  # the driver's two_palettes()


@pytest.mark.editors
@pytest.mark.parametrize("name", ["paired_documents", "paired_local_selection"])
def test_krita_selections_pair_with_the_style_layers_selection(krita_report: dict[str, Any], name: str) -> None:
    """Selected ↔ the style's selected (red) half, the rest ↔ its rest (blue), over the whole layer."""
    record = scenario(krita_report, name)
    assert_new_layer_above(record)
    assert_source_untouched(record)
    assert record["new_name"].endswith("(selections paired)"), record["new_name"]
    if name == "paired_local_selection":
        assert record["own_document_selection_ignored"], "a style layer took its own document's selection"
    result = raw(record, "result", "U8")[..., [2, 1, 0, 3]]  # Krita's B,G,R,A
    selected = selection_mask(record)
    assert selected[: selected.shape[0] // 2].all() and not selected[selected.shape[0] // 2 + 1 :].any()
    assert (result[..., 3] == 255).all(), "paired selections stylize the whole layer, not just the selection"
    inside, outside = result[selected, :3].mean(0), result[~selected, :3].mean(0)
    nearer = np.linalg.norm(inside - PAIR_BLUE) - np.linalg.norm(inside - PAIR_RED)
    assert nearer > 30, f"the selected part {inside} is not nearer the style's selected red half"
    nearer = np.linalg.norm(outside - PAIR_RED) - np.linalg.norm(outside - PAIR_BLUE)
    assert nearer > 30, f"the rest {outside} is not nearer the style's unselected blue half"


@pytest.mark.editors
def test_krita_saved_selections_pair_by_name(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "saved_selections")
    assert not record["global_selection"]
    regions = record["new_name"].partition("(regions ")[2].rstrip(")").split(", ")
    assert sorted(regions) == ["ground", "sky"], record["new_name"]
    assert_new_layer_above(record)
    assert_source_untouched(record)
    result = raw(record, "result", "U8")[..., [2, 1, 0, 3]]
    assert (result[..., 3] == 255).all(), "the local selections are regions, not the area to stylize"
    half = result.shape[0] // 2
    sky, ground = result[:half, :, :3].reshape(-1, 3).mean(0), result[half:, :, :3].reshape(-1, 3).mean(0)
    # By name: the top ("sky") from the style's blue "sky"; pairing the first local selections would not.
    assert np.linalg.norm(sky - PAIR_RED) - np.linalg.norm(sky - PAIR_BLUE) > 30, sky
    assert np.linalg.norm(ground - PAIR_BLUE) - np.linalg.norm(ground - PAIR_RED) > 30, ground


@pytest.mark.editors
@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("dead_server", "UNAVAILABLE", "not running at 127.0.0.1:"),
        ("unsupported", "UNSUPPORTED_COLOR_SPACE", "Convert Image Color Space"),
        ("no_selection", "NO_SELECTION", "nothing is selected"),
    ],
)
def test_krita_failures_leave_the_document_unchanged(
    krita_report: dict[str, Any], name: str, code: str, words: str
) -> None:
    record = scenario(krita_report, name)
    assert record["error_code"] == code, record
    assert words in record["error_message"]
    assert record["after_layers"] == record["before_layers"]
    assert_source_untouched(record)
    assert record["seconds"] < 15


@pytest.mark.editors
def test_krita_queue_and_cancel(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "queue_cancel")
    assert record["first_started"], record
    assert record["second_state_while_first_runs"] == "waiting"
    assert record["both_finished"], record
    assert record["first_state"] == "cancelled", record
    assert record["second_state"] == "done", record
    assert record["previews"] >= 1, "the long job sent no live preview"
    # The cancelled 2000-step job no longer holds the daemon: the second one finishes promptly.
    assert record["seconds_after_cancel"] < 60
    assert record["layers"] == ["Background", "source", "second job"]


@pytest.mark.editors
def test_krita_starts_a_local_daemon(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "autostart")
    assert record["started_pid"], "no daemon was started"
    assert record["layers"] == ["Background", "source", record["new_name"]]


@pytest.mark.editors
def test_krita_remote_daemon_from_the_settings(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "remote_settings")
    assert record["test_connection"].startswith("Connected to") and "TLS" in record["test_connection"], record
    assert record["new_name"] in record["layers"]
    wrong, plain = record["wrong_token"], record["plain"]
    assert wrong["error_code"] == "UNAUTHENTICATED" and "does not accept that token" in wrong["error_message"], wrong
    assert "Settings" in wrong["error_message"]
    assert plain["error_code"] == "UNAVAILABLE" and "TLS" in plain["error_message"], plain
    for failed in (wrong, plain):
        assert failed["after_layers"] == failed["before_layers"]
        assert_source_untouched(failed)
        assert failed["seconds"] < 15, failed  # a sentence at once, never a hang


@pytest.mark.editors
def test_krita_says_what_to_run_when_its_grpc_does_not_load(daemon: Any, tls_daemon: Any, tmp_path: Path) -> None:
    """Imported from the --zip archive by Krita's own importer, built for Python 3.13 while this Krita embeds 3.11:
    the plugin cannot load gRPC and must say, once, what to run."""
    require_tool("Xvfb")
    report = run_krita(daemon, tls_daemon, tmp_path, python_version="3.13", only="runtime_missing", via_zip=True)
    record = scenario(report, "runtime_missing")
    expected = "impasto install-plugin krita --python-version 3.11"
    assert expected in record["load_error"], record
    assert record["box_text"] == record["load_error"], "no message box said it"
    assert record["script_error"] == record["load_error"], "scripts were not told"


@pytest.mark.editors
def test_krita_builtin_styles(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "builtin_style")
    if not record["styles"]:
        pytest.skip("the daemon lists no built-in styles")
    assert record["listed"] == record["for_method"] == record["thumbnails"]
    assert record["new_name"] == record["expected_name"]
    assert_source_untouched(record)


@pytest.mark.editors
def test_krita_menu_action_dialog(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "menu_action")
    assert record["dialog"] == "impasto_stylize_dialog" and record["dialog_title"] == "Stylize selection"
    assert record["queued"] and record["finished"], record
    assert record["state"] == "done", record["message"]
    assert record["after_layers"] == [*record["before_layers"], "gatys · style"]
    assert_source_untouched(record)


def listed_styles(report: dict[str, Any]) -> set[str]:
    with Client(report["daemon_address"]) as client:
        return {s.id for s in client.list_styles()}


def document_unchanged(record: dict[str, Any]) -> None:
    """The same layers, bit for bit, and the same visible image after training as before it."""
    assert record["post_train_all_layers"] == record["pre_train_all_layers"], "training changed the layers"
    files = record["files"]
    keys = [k for k in files if k.startswith("pre_train_")]
    assert len(keys) == len(record["pre_train_all_layers"]) + 1  # each layer and the projection
    for key in keys:
        after = Path(files[key.replace("pre_train_", "post_train_")]).read_bytes()
        assert Path(files[key]).read_bytes() == after, f"training changed {key}"


@pytest.mark.editors
def test_krita_train_style_from_the_active_layer(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "train_active")
    assert (record["no_name_error"], record["bad_effort_error"]) == ("INVALID_ARGUMENT", "INVALID_ARGUMENT")
    assert record["no_file_error"] == "NOT_FOUND"
    assert record["style_id"] == "cin:Krita-test-style", record["style_id"]
    assert record["progress"] == [[1, 3], [2, 3], [3, 3]], record["progress"]
    assert "style" in record["losses"][0]
    assert record["style_id"] in listed_styles(krita_report)
    assert (Path(krita_report["models_dir"]) / "cin" / "Krita-test-style.pt").is_file()
    document_unchanged(record)
    assert record["active_node_after"] == "source"
    assert record["catalog_lists"] and record["picker_lists"], "the docker's style picker does not offer it"
    # The new style stylizes: a new layer above the source, different from it, the source untouched.
    assert record["new_name"] == f"cin · {record['style_id']}", record["new_name"]
    assert_new_layer_above(record)
    assert_source_untouched(record)
    assert_stylized_inside(record, "U8")


@pytest.mark.editors
def test_krita_train_dialog_picks_the_new_style(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "train_dialog")
    assert record["dialog"] == "impasto_train_dialog" and record["dialog_visible"], record
    assert record["efforts"] == ["quick", "good"]
    assert record["saved_as"] == "Saved as “Dialog-style”"
    assert record["started"], record.get("refused")
    assert not record["editable_while_running"]
    assert record["finished"] and record["state"] == "done", record["message"]
    assert (record["style_id"], record["method"]) == ("cin:Dialog-style", "cin")
    assert record["done_text"].startswith("Trained cin:Dialog-style in ")
    steps = [text for text, _ in record["texts"] if text.startswith("Training: step ")]
    assert steps[-1] == "Training: step 3/3", record["texts"]
    assert any(details.startswith("loss ") for _, details in record["texts"]), record["texts"]
    assert record["preview_shown"], "the dialog showed no preview of the style"
    assert record["docker_picked"], "the docker did not pick the new style"
    assert record["docker_status"] == "New style cin:Dialog-style is ready: press Stylize"
    assert "cin:Dialog-style" in listed_styles(krita_report)
    document_unchanged(record)


@pytest.mark.editors
def test_krita_train_dialog_cancel(krita_report: dict[str, Any]) -> None:
    record = scenario(krita_report, "train_cancel")
    assert record["opened_by_action"], "Tools ▸ Scripts ▸ impasto ▸ Train a style… did not show the dialog"
    assert record["started"] and record["progressed"], record
    assert record["running_text"].startswith("Training: step ") and record["running_text"].endswith("/2000")
    assert "left" in record["running_details"] and "loss " in record["running_details"], record["running_details"]
    assert record["cancel_label"].replace("&", "") == "Cancel"  # Krita adds keyboard accelerators to buttons
    assert record["cancelling_text"] == "Cancelling…"
    assert record["finished"] and record["seconds_after_cancel"] < 20, record
    assert (record["state"], record["code"]) == ("cancelled", "CANCELLED"), record["message"]
    assert record["end_text"] == "Training cancelled; the daemon kept a checkpoint"
    assert record["last_step"] < 2000
    assert record["editable_again"] and record["closed"]
    assert record["layers"] == ["Background", "source"]
    models = Path(krita_report["models_dir"])
    name = record["model_name"]
    assert name == "Cancel-me"
    assert not (models / "cin" / f"{name}.pt").exists(), "a cancelled training saved a model"
    assert f"cin:{name}" not in listed_styles(krita_report)
    # The daemon stopped the run (rather than the plugin only ceasing to listen): it wrote its checkpoint then,
    # the scenario asking for none on the way.
    assert (models / "checkpoints" / f"cin-style-{name}.ckpt").is_file()
