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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from impasto_client import Client

from .conftest import serve_process

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
    "remote_settings",
    "autostart",
    "train_style_from_layer",
    "train_style_from_file_good",
    "train_bad_names",
    "train_cancel_then_overwrite",
    "train_dialog_ok",
]
# Scenarios whose style the daemon must list afterwards: (scenario, the style id's prefix and method).
TRAINED = {
    "train_style_from_layer": "cin",
    "train_style_from_file_good": "fast",
    "train_cancel_then_overwrite": "cin",
    "train_dialog_ok": "cin",
}
# Tiny training runs: seconds each on a CPU.
TRAIN_PARAMS = {"size": 32, "batch": 1, "steps": 3, "precision": "float32"}
# IMPASTO_GIMP_SCENARIOS=a,b runs only those scenarios (one GIMP start either way): for working on one of them.
ONLY = [name for name in os.environ.get("IMPASTO_GIMP_SCENARIOS", "").split(",") if name.strip()]
SELECTED = [name for name in SCENARIOS if not ONLY or name in ONLY]


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
    models: Path  # the daemon's models dir (IMPASTO_MODELS_DIR) during the run


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


def _kill_plugin_when_asked(
    marker: Path, plugin_path: str, done: threading.Event, ready: Callable[[], bool] | None = None
) -> None:
    """Plays GIMP's progress Cancel, which kills the plug-in process, once the scenario asks.

    Only processes whose command line holds this run's own plug-in path are candidates;
    one still running 3 s after it was seen is the long job (a previous call's process
    may still be exiting when the marker appears). With `ready`, the kill waits until it
    says the job has got far enough instead.
    """
    while not done.is_set() and not marker.exists():
        time.sleep(0.1)
    deadline = time.monotonic() + 120
    while not done.is_set() and time.monotonic() < deadline:
        if ready is not None and not ready():
            time.sleep(0.1)
            continue
        seen = _plugin_processes(plugin_path)
        if seen:
            # Long enough for the job to be running in the daemon, not merely queued.
            time.sleep(3.0 if ready is None else 0.0)
            for pid in set(seen) & set(_plugin_processes(plugin_path)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                return
        time.sleep(0.1)


# The dialogs the scenarios open, in order: (marker suffix, window title, answer). A scenario writes the marker
# just before it opens the dialog, and the next one only once that dialog's job is over.
DIALOGS = [("ok", "Neural Style", "ok"), ("cancel", "Neural Style", "cancel"), ("train-ok", "Train a Style", "ok")]


def _drive_dialogs(root: Path, display: str, markers: Path, done: threading.Event) -> None:
    """Answers the scenarios' dialogs (DIALOGS) on the virtual display: OK is clicked, Cancel is Escape.

    Each answer is repeated until that dialog's window is gone: a key or click sent while GTK is still
    mapping the window can be lost, and the scenario would then wait for ever. A dialog whose scenario
    does not run (a later marker appears first) is skipped.
    """
    xdotool = ["chroot", str(root), "env", f"DISPLAY={display}", "xdotool"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([*xdotool, *args], capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(args, 1, "", "")

    def visible(title: str) -> list[str]:
        return run("search", "--onlyvisible", "--name", title).stdout.split()

    paths = [markers.with_name(markers.name + suffix) for suffix, _title, _action in DIALOGS]
    for index, (_suffix, title, action) in enumerate(DIALOGS):
        marker, later = paths[index], paths[index + 1 :]
        # The scenario writes the next marker only once this dialog's job is over: no answer may reach it.
        finished = later[0] if later else None
        while not done.is_set() and not marker.exists() and not any(p.exists() for p in later):
            time.sleep(0.1)
        if not marker.exists():
            continue
        window = ""
        while not done.is_set() and not window:
            found = visible(title)
            window = found[-1] if found else ""
            time.sleep(0.2)
        while not done.is_set() and window in visible(title) and not (finished and finished.exists()):
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


def _serve_when_asked(work: Path, port: int, started: list[subprocess.Popen], done: threading.Event) -> None:
    """Starts the real daemon the chroot's launcher asks for (tests/gimp/scenarios.py::autostart)."""
    request = work / "daemon-request"
    while not done.is_set():
        if request.exists() and request.read_text().strip():
            argv = request.read_text().split()
            asked = int(argv[argv.index("--port") + 1])
            if asked == port:
                started.append(serve_process(port)[0])
            return
        time.sleep(0.1)


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
def gimp_run(daemon, tls_daemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GimpRun]:
    root = require_chroot()
    models = tmp_path_factory.mktemp("gimp-models")
    # The daemon runs in this process and reads IMPASTO_MODELS_DIR at each call: what the scenarios train
    # lands here, never in the user's own models folder, and is listed while the tests below read the report.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMPASTO_MODELS_DIR", str(models))
        yield from _run_gimp(root, daemon, tls_daemon, models)


# The Python GIMP 3.0 runs plug-ins with in the Debian trixie chroot (tests/test_packaging.py reads it from its files).
GIMP_PYTHON = "3.13"


def _run_gimp(
    root: Path, daemon, tls_daemon, models: Path, python_version: str = GIMP_PYTHON, only: list[str] = ONLY
) -> Iterator[GimpRun]:
    work = root / "tmp" / f"impasto-gimp-{os.getpid()}-{python_version}"
    autostart_port = _free_port()
    started: list[subprocess.Popen] = []  # the daemon the plug-in asked for
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
                python_version,
            ],
            check=True,
            timeout=300,
        )
        # Bold red/blue diagonal stripes: a style nothing in the test images resembles.
        yy, xx = np.mgrid[0:64, 0:64]
        band = (((xx + yy) // 4) % 2 == 0)[..., None]
        Image.fromarray(np.where(band, (220, 30, 40), (20, 40, 200)).astype(np.uint8)).save(work / "stripes.png")
        shutil.copy(HERE / "scenarios.py", work / "scenarios.py")
        launcher = work / "start-daemon.sh"
        launcher.write_text(
            "#!/bin/sh\n# Stands in for `impasto` in the chroot, which has no torch: the test starts the real daemon\n"
            "# with these arguments outside, and this lives until the test ends.\n"
            f'echo "$@" > {inside}/daemon-request\n'
            f"i=0; while [ -d {inside} ] && [ ! -e {inside}/daemon-stop ] && [ $i -lt 600 ]; do\n"
            "  sleep 0.5; i=$((i + 1))\ndone\n"
        )
        launcher.chmod(0o755)
        for credential in (tls_daemon.ca, tls_daemon.token, tls_daemon.wrong_token):
            shutil.copy(credential, work / credential.name)
        with Client(daemon.address) as client:
            styles = client.list_styles()
            photo = any(m.name == "photo" for m in client.list_methods())
        config = {
            "server": daemon.address,
            "dead_server": f"127.0.0.1:{_free_port()}",
            "autostart_server": f"127.0.0.1:{autostart_port}",
            "daemon_launcher": str(inside / launcher.name),
            "daemon_request": str(inside / "daemon-request"),
            # A daemon as a remote GPU box runs it, and what the Connection Settings procedure is given for it.
            "tls_server": tls_daemon.address,
            "ca": str(inside / tls_daemon.ca.name),
            "token": str(inside / tls_daemon.token.name),
            "wrong_token": str(inside / tls_daemon.wrong_token.name),
            "style_path": str(inside / "stripes.png"),
            "builtin": styles[0].id if styles else "",
            "photo": photo,
            # A built-in style's method is fast by design: its defaults are fine.
            "builtin_params": {},
            "fast_params": {"size": 40, "steps": 10, "coarse_steps": 0, "optimizer": "adam"},
            "slow_params": {"size": 64, "steps": 10000, "coarse_steps": 0, "optimizer": "adam"},
            "report": str(inside / "report.json"),
            "cancel_marker": str(inside / "cancel-now"),
            "train_params": TRAIN_PARAMS,
            # Long enough never to finish; a checkpoint at every step tells the test when to cancel it.
            "train_slow_params": {**TRAIN_PARAMS, "steps": 100_000, "checkpoint_every": 1},
            "train_cancel_marker": str(inside / "cancel-training-now"),
            "only": only,
            "gimp_python": GIMP_PYTHON,
        }
        xvfb, display = _start_display(root)
        config["display"] = display
        config["ui_marker"] = str(inside / "ui-")
        (work / "config.json").write_text(json.dumps(config))
        done = threading.Event()
        plugin_path = str(inside / "home/.config/GIMP/3.0/plug-ins" / PLUGIN_FILE)
        # Cancelled once the run has saved a checkpoint, so the scenario can check that it was kept.
        checkpoint = models / "checkpoints" / "cin-style-gimp-cancelled.ckpt"
        helpers = [
            threading.Thread(target=_serve_when_asked, args=(work, autostart_port, started, done), daemon=True),
            threading.Thread(
                target=_kill_plugin_when_asked, args=(work / "cancel-now", plugin_path, done), daemon=True
            ),
            threading.Thread(
                target=_kill_plugin_when_asked,
                args=(work / "cancel-training-now", plugin_path, done, checkpoint.exists),
                daemon=True,
            ),
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
        yield GimpRun(done_run.returncode, done_run.stdout + done_run.stderr, report, seconds, models)
    finally:
        (work / "daemon-stop").touch()
        for process in started:
            process.kill()
            process.wait(10)
        if not os.environ.get("IMPASTO_KEEP_GIMP_RUN"):  # set it to look at the files of a failed run
            shutil.rmtree(work, ignore_errors=True)


@pytest.mark.editors
def test_gimp_batch_run_is_clean(gimp_run: GimpRun) -> None:
    # 64: an exception in the batch script (a failed scenario raises one at the end).
    assert gimp_run.returncode == 0, f"gimp-console exited {gimp_run.returncode}:\n{gimp_run.output[-6000:]}"
    assert set(gimp_run.report) == set(SELECTED), gimp_run.output[-6000:]
    # GIMP warns when a plug-in leaves an undo group open; our group must be balanced.
    assert "inconsistent state" not in gimp_run.output, gimp_run.output[-6000:]


@pytest.mark.editors
@pytest.mark.parametrize("name", SCENARIOS)
def test_gimp_scenario(gimp_run: GimpRun, name: str) -> None:
    if name not in SELECTED:
        pytest.skip(f"not in IMPASTO_GIMP_SCENARIOS={','.join(ONLY)}")
    entry = gimp_run.report.get(name)
    assert entry is not None, f"scenario {name} did not run:\n{gimp_run.output[-6000:]}"
    assert entry["ok"], f"{name}: {entry['detail']}\n--- GIMP output ---\n{gimp_run.output[-4000:]}"


@pytest.mark.editors
@pytest.mark.parametrize("name", sorted(TRAINED))
def test_gimp_trained_style_is_listed(gimp_run: GimpRun, daemon, name: str) -> None:
    """What Train a Style reported is what the daemon now lists, and its model is in the test's models folder."""
    if name not in SELECTED:
        pytest.skip(f"not in IMPASTO_GIMP_SCENARIOS={','.join(ONLY)}")
    entry = gimp_run.report.get(name) or {}
    assert entry.get("ok"), f"{name} did not train: {entry.get('detail')}"
    data = entry["data"]
    method = TRAINED[name]
    assert data["style_id"] == f"{method}:{data['name']}" and data["method"] == method, data
    with Client(daemon.address) as client:
        listed = {style.id: style for style in client.list_styles()}
    assert data["style_id"] in listed, f"ListStyles does not list {data['style_id']}: {sorted(listed)}"
    assert listed[data["style_id"]].method == method
    assert [p.name for p in gimp_run.models.rglob(f"{data['name']}.pt")] == [f"{data['name']}.pt"]


@pytest.mark.editors
def test_gimp_says_what_to_run_when_its_grpc_does_not_load(daemon, tls_daemon, tmp_path: Path) -> None:
    """The plug-in installed for Python 3.11 into GIMP's 3.13: its vendored gRPC cannot load, and every procedure
    must fail with the command that fixes it, leaving the image as it was."""
    runs = _run_gimp(require_chroot(), daemon, tls_daemon, tmp_path, "3.11", ["runtime_missing"])
    with contextlib.closing(runs):
        run = next(runs)
        entry = run.report.get("runtime_missing")
        assert entry is not None, f"the scenario did not run:\n{run.output[-6000:]}"
        assert entry["ok"], f"{entry['detail']}\n--- GIMP output ---\n{run.output[-4000:]}"


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
    text, fraction = options.train_progress_text(
        "progress", "my-style", step=12, total=48, losses={"style": 31.25, "content": 1.5}, eta_seconds=150
    )
    assert text == "impasto: training my-style 12/48 · loss 32.8 (style 31.2, content 1.5) · 2 min 30 s left"
    assert fraction == 0.25
    assert options.train_progress_text("queued", "my-style", position=1) == options.progress_text("queued", 1)
    assert options.train_progress_text("model", "my-style")[1] == 1.0
