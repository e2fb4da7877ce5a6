"""A daemon on this computer, started by an editor when none answers, so a painter never opens a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from .client import Client, ImpastoError

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
# Importing torch and opening the port takes a while on a cold disk.
START_TIMEOUT = 90.0


def split_address(address: str) -> tuple[str, int] | None:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host, int(port)


def is_local(address: str) -> bool:
    parts = split_address(address)
    return parts is not None and parts[0] in LOOPBACK


def start(address: str, command: list[str], log_path: str) -> subprocess.Popen:
    """Starts `command serve` on the address's port, detached from the editor, its output appended to `log_path`."""
    parts = split_address(address)
    if parts is None or not is_local(address):
        raise ImpastoError("UNAVAILABLE", f"impasto only starts a daemon on this computer, not at {address}")
    if not command:
        raise ImpastoError(
            "UNAVAILABLE",
            "cannot start the impasto daemon: the 'impasto' command was not found; install impasto, or set the "
            "daemon command in the plug-in's settings",
        )
    host, port = parts
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    log_file = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    argv = [*command, "serve", "--host", host.strip("[]"), "--port", str(port), "--log-format", "text"]
    # The editor's own Python settings (PYTHONPATH lists its folders) must not leak into the daemon's Python, and
    # the editor's working folder may hold something importable.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    kwargs: dict = {
        "stdout": log_file,
        "stderr": subprocess.STDOUT,
        "stdin": subprocess.DEVNULL,
        "env": env,
        "cwd": os.path.dirname(log_path) or ".",
    }
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
    else:
        # Its own session, so a Ctrl+C in the terminal that started the editor does not reach it.
        kwargs["start_new_session"] = True
    try:
        return subprocess.Popen(argv, **kwargs)
    except OSError as err:
        raise ImpastoError("UNAVAILABLE", f"cannot start the impasto daemon ({argv[0]}): {err}") from None
    finally:
        log_file.close()


def wait_until_ready(client: Client, process: subprocess.Popen, timeout: float = START_TIMEOUT) -> bool:
    """True once the started daemon answers; False when it exits or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.wait_ready(1.0):
            return True
        if process.poll() is not None:
            return False
    return False
