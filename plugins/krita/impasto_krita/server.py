"""Finding the daemon: connect to the configured address, or start a local one on request."""

from __future__ import annotations

import os
import subprocess
import threading

from impasto_client import Client, Connection, ImpastoError, local_daemon
from impasto_client.local_daemon import is_local

from .errors import StylizeError
from .log import LOG, log_dir
from .settings import Settings

_lock = threading.Lock()
_started: subprocess.Popen | None = None


def start_local_daemon(address: str, command: list[str]) -> subprocess.Popen:
    """Starts `command serve` on the address's port, detached, logging to the plugin's log folder."""
    LOG.info("starting the daemon: %s serve (%s)", " ".join(command), address)
    try:
        return local_daemon.start(address, command, os.path.join(log_dir(), "daemon.log"))
    except ImpastoError as err:
        raise StylizeError(err.code, err.message) from None


def stop_started_daemon() -> None:
    """Stops the daemon this plugin started, if any (called when Krita closes)."""
    global _started
    with _lock:
        process, _started = _started, None
    if process is not None and process.poll() is None:
        LOG.info("stopping the daemon this plugin started (pid %d)", process.pid)
        process.terminate()


def connect(address: str | Connection | None = None, autostart: bool | None = None, timeout: float = 2.0) -> Client:
    """A ready client that the daemon accepts, or StylizeError saying clearly why there is none.

    With no address the saved settings apply (address, token, TLS), including starting a local daemon; an explicit
    address (a plain host:port, or a Connection with its token and TLS) is used as given and never starts anything
    unless asked.
    """
    global _started
    settings = Settings.load()
    if address is None:
        connection = settings.connection()
        autostart = settings.autostart if autostart is None else autostart
    else:
        connection = address if isinstance(address, Connection) else Connection(address)
    address = connection.address
    client = Client(connection)
    try:
        if client.answers(timeout):
            return client
        if autostart and is_local(address) and not connection.tls:
            with _lock:
                if _started is None or _started.poll() is not None:
                    _started = start_local_daemon(address, settings.command())
                process = _started
            if local_daemon.wait_until_ready(client, process) and client.answers(timeout):
                return client
            raise StylizeError(
                "UNAVAILABLE",
                f"the impasto daemon started for {address} did not come up; see "
                f"{os.path.join(log_dir(), 'daemon.log')}",
            )
    except ImpastoError as err:
        client.close()
        hint = " (impasto docker ▸ Settings)" if err.code == "UNAUTHENTICATED" else ""
        raise StylizeError(err.code, err.message + hint) from None
    except StylizeError:
        client.close()
        raise
    client.close()
    hint = (
        "or press 'Start / retry' in the impasto docker"
        if is_local(address) and settings.autostart
        else "or turn on 'Start a local daemon' in the impasto docker's Settings"
    )
    raise StylizeError(
        "UNAVAILABLE", f"the impasto daemon is not running at {address}. Start it with 'impasto serve', {hint}."
    )
