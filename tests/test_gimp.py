"""The GIMP 3 plug-in inside real GIMP 3 (Debian trixie chroot), against the real daemon on loopback.

One GIMP batch run covers every scenario (tests/gimp/scenarios.py) and writes a
report; the tests below read it, one per scenario, so a failure names what broke.
The chroot comes from tests/gimp/setup-chroot.sh; the plug-in is installed into
it by the real `impasto install-plugin gimp`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from impasto_client import Client

HERE = Path(__file__).parent / "gimp"
CHROOT = Path(os.environ.get("IMPASTO_GIMP_CHROOT", "/tmp/impasto-trixie"))
PLUGIN_FILE = "impasto_gimp/impasto_gimp.py"
GIMP_TIMEOUT_S = 240
SCENARIOS = [
    "registration",
    "u8_rectangle_from_file",
    "u16_feathered_keep_colours",
    "float_selection_layer_from_layer",
    "gray_offset_layer_whole",
    "paired_selections",
    "saved_selections_by_name",
    "daemon_down",
    "bad_arguments",
    "cancel_then_next_job",
    "dialog_ok_then_cancel",
    "photo_style",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("IMPASTO_REQUIRE_EDITORS"):
        pytest.fail(f"{reason} but IMPASTO_REQUIRE_EDITORS is set")
    pytest.skip(f"{reason} (run tests/gimp/setup-chroot.sh as root)")


def require_chroot() -> Path:
    """The trixie chroot with GIMP 3; skips where it is missing, unless CI demands every editor."""
    if not (CHROOT / "usr/bin/gimp-console-3.0").exists():
        _unavailable(f"no GIMP 3 chroot at {CHROOT}")
    if os.geteuid() != 0:
        _unavailable("chroot needs root")
    return CHROOT


@dataclass
class GimpRun:
    returncode: int
    output: str
    report: dict[str, dict[str, object]]
    seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _plugin_processes(plugin_path: str) -> list[int]:
    """Live processes running this test run's own copy of the plug-in."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            running = plugin_path.encode() in (entry / "cmdline").read_bytes()
            alive = "\nState:\tZ" not in (entry / "status").read_text()
        except OSError:
            continue
        if running and alive:
            found.append(int(entry.name))
    return found


def _kill_plugin_when_asked(marker: Path, plugin_path: str, done: threading.Event) -> None:
    """Plays GIMP's progress Cancel, which kills the plug-in process, once the scenario asks.

    Only processes whose command line holds this run's own plug-in path are candidates;
    one still running 3 s after it was seen is the long job (a previous call's process
    may still be exiting when the marker appears).
    """
    while not done.is_set() and not marker.exists():
        time.sleep(0.1)
    deadline = time.monotonic() + 60
    while not done.is_set() and time.monotonic() < deadline:
        seen = _plugin_processes(plugin_path)
        if seen:
            # Long enough for the job to be running in the daemon, not merely queued.
            time.sleep(3.0)
            for pid in set(seen) & set(_plugin_processes(plugin_path)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                return
        time.sleep(0.1)


def _drive_dialogs(root: Path, display: str, markers: Path, done: threading.Event) -> None:
    """Answers the scenario's dialogs on the virtual display: OK (clicked) the first, Escape the second.

    Each answer is repeated until that dialog's window is gone: a key or click sent while GTK is still
    mapping the window can be lost, and the scenario would then wait for ever.
    """
    xdotool = ["chroot", str(root), "env", f"DISPLAY={display}", "xdotool"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([*xdotool, *args], capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(args, 1, "", "")

    def visible() -> list[str]:
        return run("search", "--onlyvisible", "--name", "Neural Style").stdout.split()

    for action, until in (("ok", "cancel"), ("cancel", "")):
        marker = markers.with_name(markers.name + action)
        # The scenario writes the next marker only once this dialog's job is over: no answer may reach it.
        finished = markers.with_name(markers.name + until) if until else None
        while not done.is_set() and not marker.exists():
            time.sleep(0.1)
        window = ""
        while not done.is_set() and not window:
            found = visible()
            window = found[-1] if found else ""
            time.sleep(0.2)
        while not done.is_set() and window in visible() and not (finished and finished.exists()):
            time.sleep(0.5)  # let GTK finish mapping and laying out the dialog
            if action == "ok":
                shape = run("getwindowgeometry", "--shell", window)
                size = dict(line.split("=", 1) for line in shape.stdout.split() if "=" in line)
                if "WIDTH" not in size:
                    continue
                # The OK button sits in the bottom-right corner of a GTK dialog.
                x, y = int(size["WIDTH"]) - 30, int(size["HEIGHT"]) - 18
                run("mousemove", "--window", window, str(x), str(y), "click", "1")
            else:
                run("key", "--window", window, "Escape")
                run("windowfocus", window, "key", "Escape")
            time.sleep(1.5)


def _start_display(root: Path) -> tuple[subprocess.Popen[bytes] | None, str]:
    """Xvfb inside the chroot on a display it picks itself; (None, "") where Xvfb is missing."""
    if not (root / "usr/bin/Xvfb").exists():
        return None, ""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["chroot", str(root), "Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        return None, ""
    return server, f":{number}"


@pytest.fixture(scope="module")
def gimp_run(daemon) -> Iterator[GimpRun]:
    root = require_chroot()
    yield from _run_gimp(root, daemon)


def _run_gimp(root: Path, daemon) -> Iterator[GimpRun]:
    work = root / "tmp" / f"impasto-gimp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    home = work / "home"
    inside = Path("/") / work.relative_to(root)  # the same folder as GIMP in the chroot sees it
    plugins = home / ".config/GIMP/3.0/plug-ins"
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "impasto",
                "install-plugin",
                "gimp",
                "--dest",
                str(plugins),
                "--python-version",
                "3.13",
            ],
            check=True,
            timeout=300,
        )
        # Bold red/blue diagonal stripes: a style nothing in the test images resembles.
        yy, xx = np.mgrid[0:64, 0:64]
        band = (((xx + yy) // 4) % 2 == 0)[..., None]
        Image.fromarray(np.where(band, (220, 30, 40), (20, 40, 200)).astype(np.uint8)).save(work / "stripes.png")
        shutil.copy(HERE / "scenarios.py", work / "scenarios.py")
        with Client(daemon.address) as client:
            styles = client.list_styles()
            photo = any(m.name == "photo" for m in client.list_methods())
        config = {
            "server": daemon.address,
            "dead_server": f"127.0.0.1:{_free_port()}",
            "style_path": str(inside / "stripes.png"),
            "builtin": styles[0].id if styles else "",
            "photo": photo,
            # A built-in style's method is fast by design: its defaults are fine.
            "builtin_params": {},
            "fast_params": {"size": 40, "steps": 10, "coarse_steps": 0, "optimizer": "adam"},
            "slow_params": {"size": 64, "steps": 10000, "coarse_steps": 0, "optimizer": "adam"},
            "report": str(inside / "report.json"),
            "cancel_marker": str(inside / "cancel-now"),
        }
        xvfb, display = _start_display(root)
        config["display"] = display
        config["ui_marker"] = str(inside / "ui-")
        (work / "config.json").write_text(json.dumps(config))
        done = threading.Event()
        helpers = [
            threading.Thread(
                target=_kill_plugin_when_asked,
                args=(work / "cancel-now", str(inside / "home/.config/GIMP/3.0/plug-ins" / PLUGIN_FILE), done),
                daemon=True,
            )
        ]
        if display:
            helpers.append(
                threading.Thread(target=_drive_dialogs, args=(root, display, work / "ui-", done), daemon=True)
            )
        for helper in helpers:
            helper.start()
        command = [
            "chroot", str(root), "env", "-i", f"HOME={inside / 'home'}", "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
            f"DISPLAY={display}", f"IMPASTO_TEST_CONFIG={inside / 'config.json'}", f"IMPASTO_SERVER={daemon.address}",
            "gimp-console-3.0", "-i", "--batch-interpreter=python-fu-eval",
            "-b", f'exec(open("{inside / "scenarios.py"}").read())', "--quit",
        ]  # fmt: skip
        start = time.monotonic()
        try:
            done_run = subprocess.run(command, capture_output=True, text=True, timeout=GIMP_TIMEOUT_S)
        finally:
            done.set()
            if xvfb is not None:
                xvfb.kill()
                xvfb.wait()
        seconds = time.monotonic() - start
        report_file = work / "report.json"
        report = json.loads(report_file.read_text()) if report_file.exists() else {}
        yield GimpRun(done_run.returncode, done_run.stdout + done_run.stderr, report, seconds)
    finally:
        if not os.environ.get("IMPASTO_KEEP_GIMP_RUN"):  # set it to look at the files of a failed run
            shutil.rmtree(work, ignore_errors=True)


@pytest.mark.editors
def test_gimp_batch_run_is_clean(gimp_run: GimpRun) -> None:
    # 64: an exception in the batch script (a failed scenario raises one at the end).
    assert gimp_run.returncode == 0, f"gimp-console exited {gimp_run.returncode}:\n{gimp_run.output[-6000:]}"
    assert set(gimp_run.report) == set(SCENARIOS), gimp_run.output[-6000:]
    # GIMP warns when a plug-in leaves an undo group open; our group must be balanced.
    assert "inconsistent state" not in gimp_run.output, gimp_run.output[-6000:]


@pytest.mark.editors
@pytest.mark.parametrize("name", SCENARIOS)
def test_gimp_scenario(gimp_run: GimpRun, name: str) -> None:
    entry = gimp_run.report.get(name)
    assert entry is not None, f"scenario {name} did not run:\n{gimp_run.output[-6000:]}"
    assert entry["ok"], f"{name}: {entry['detail']}\n--- GIMP output ---\n{gimp_run.output[-4000:]}"


def test_installer_layout(tmp_path: Path) -> None:
    """What GIMP needs on disk: a folder named like its executable main file, with the runtime inside."""
    from impasto.install.gimp import install

    target = install(dest=tmp_path, python_version="3.13", platform="linux")
    assert target == tmp_path / "impasto_gimp"
    main = target / "impasto_gimp.py"
    assert main.read_text().startswith("#!/usr/bin/env python3")
    assert os.access(main, os.X_OK)
    assert (target / "impasto_glue" / "procedures.py").is_file()
    assert (target / "vendor" / "impasto_client" / "client.py").is_file()
    assert list((target / "vendor" / "grpc" / "_cython").glob("cygrpc.cpython-313-*.so"))
    assert (target / "vendor" / "google" / "protobuf").is_dir()
    # Reinstalling replaces the folder whole and leaves no staging folder for GIMP to trip over.
    install(dest=tmp_path, python_version="3.13", platform="linux")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["impasto_gimp"]


def test_default_destinations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from impasto.install.gimp import default_dest

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("APPDATA", str(tmp_path / "Roaming"))
    assert default_dest("linux") == tmp_path / ".config/GIMP/3.0/plug-ins"
    assert default_dest("win32") == tmp_path / "Roaming/GIMP/3.0/plug-ins"
    assert default_dest("darwin") == tmp_path / "Library/Application Support/GIMP/3.0/plug-ins"


def test_options_without_gimp() -> None:
    """The argument parsing the plug-in shares with scripts, checked on the host's Python."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "gimp" / "impasto_gimp"))
    try:
        from impasto_glue import options
    finally:
        sys.path.pop(0)
    assert options.parse_params("") == {}
    assert options.parse_params('{"steps": 5, "init": "noise", "x": true}') == {"steps": 5, "init": "noise", "x": True}
    for bad in ("[1]", "{oops", '{"a": null}', '{"a": [1]}'):
        with pytest.raises(options.OptionError):
            options.parse_params(bad)
    assert options.binary_mask(bytes([0, 1, 128, 255])) == bytes([0, 255, 255, 255])
    assert options.check_preserve_color("Luminance") == "luminance"
    with pytest.raises(options.OptionError):
        options.check_preserve_color("sepia")
    text, fraction = options.progress_text("progress", stage="gatys", step=5, total=20)
    assert fraction == 0.25 and "5/20" in text
    assert options.progress_text("queued", position=2)[1] < 0
    assert np.isclose(options.progress_text("result")[1], 1.0)
