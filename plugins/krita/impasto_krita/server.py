"""Finding the daemon: connect to the configured address, or start a local one on request."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from impasto_client import Client

from .errors import StylizeError
from .log import LOG, log_dir
from .settings import Settings

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
# Importing torch and opening the port takes a while on a cold disk.
START_TIMEOUT = 90.0

_lock = threading.Lock()
_started: subprocess.Popen | None = None


def split_address(address: str) -> tuple[str, int] | None:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host, int(port)


def is_local(address: str) -> bool:
    parts = split_address(address)
    return parts is not None and parts[0] in LOOPBACK


def start_local_daemon(address: str, command: list[str]) -> subprocess.Popen:
    """Starts `command serve` on the address's port, detached, logging to the plugin's log folder."""
    parts = split_address(address)
    if parts is None or not is_local(address):
        raise StylizeError("UNAVAILABLE", f"impasto only starts a daemon on this computer, not at {address}")
    if not command:
        raise StylizeError(
            "UNAVAILABLE",
            "cannot start the impasto daemon: the 'impasto' command was not found. Install impasto, or set "
            "the daemon command in the impasto docker's Settings.",
        )
    host, port = parts
    os.makedirs(log_dir(), exist_ok=True)
    log_file = open(os.path.join(log_dir(), "daemon.log"), "ab")  # noqa: SIM115 - handed to the child
    argv = [*command, "serve", "--host", host.strip("[]"), "--port", str(port), "--log-format", "text"]
    LOG.info("starting the daemon: %s", " ".join(argv))
    # Krita's own Python settings (PYTHONPATH lists Krita's folders) must not leak into
    # the daemon's Python, and its working folder holds nothing importable.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    kwargs: dict = {
        "stdout": log_file,
        "stderr": subprocess.STDOUT,
        "stdin": subprocess.DEVNULL,
        "env": env,
        "cwd": log_dir(),
    }
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
    else:
        # Its own session, so a Ctrl+C in the terminal that started Krita does not reach it.
        kwargs["start_new_session"] = True
    try:
        return subprocess.Popen(argv, **kwargs)
    except OSError as err:
        raise StylizeError("UNAVAILABLE", f"cannot start the impasto daemon ({argv[0]}): {err}") from None
    finally:
        log_file.close()


def stop_started_daemon() -> None:
    """Stops the daemon this plugin started, if any (called when Krita closes)."""
    global _started
    with _lock:
        process, _started = _started, None
    if process is not None and process.poll() is None:
        LOG.info("stopping the daemon this plugin started (pid %d)", process.pid)
        process.terminate()


def connect(address: str | None = None, autostart: bool | None = None, timeout: float = 2.0) -> Client:
    """A ready client, or StylizeError saying clearly why there is none.

    With no address the saved settings apply, including starting a local daemon;
    an explicit address is used as given and never starts anything unless asked.
    """
    global _started
    settings = Settings.load()
    if address is None:
        address = settings.address
        autostart = settings.autostart if autostart is None else autostart
    client = Client(address)
    if client.wait_ready(timeout):
        return client
    if autostart and is_local(address):
        with _lock:
            if _started is None or _started.poll() is not None:
                _started = start_local_daemon(address, settings.command())
            process = _started
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if client.wait_ready(1.0):
                return client
            if process.poll() is not None:
                break
        client.close()
        raise StylizeError(
            "UNAVAILABLE",
            f"the impasto daemon started for {address} did not come up; see {os.path.join(log_dir(), 'daemon.log')}",
        )
    client.close()
    hint = (
        "or press 'Start / retry' in the impasto docker"
        if is_local(address) and settings.autostart
        else "or turn on 'Start a local daemon' in the impasto docker's Settings"
    )
    raise StylizeError(
        "UNAVAILABLE", f"the impasto daemon is not running at {address}. Start it with 'impasto serve', {hint}."
    )
