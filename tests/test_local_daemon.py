"""What the editors share for a daemon on this computer: starting one, and the settings file they read and write."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from impasto_client import Client, ImpastoError, local_daemon
from impasto_client.settings_file import read_client_settings, write_client_settings

from .conftest import free_port


def test_an_editor_starts_a_daemon_that_serves(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    log = tmp_path / "logs" / "daemon.log"
    process = local_daemon.start(address, [sys.executable, "-m", "impasto"], str(log))
    try:
        with Client(address) as client:
            assert local_daemon.wait_until_ready(client, process), log.read_text()
            assert any(method.name == "gatys" for method in client.list_methods())
        assert "listening" in log.read_text()
    finally:
        process.terminate()
        process.wait(30)


def test_a_daemon_that_cannot_start_is_explained(tmp_path: Path) -> None:
    log = str(tmp_path / "daemon.log")
    with pytest.raises(ImpastoError, match="command was not found"):
        local_daemon.start("127.0.0.1:50999", [], log)
    with pytest.raises(ImpastoError, match="only starts a daemon on this computer"):
        local_daemon.start("gpu-box.example:50051", ["impasto"], log)
    with pytest.raises(ImpastoError, match="cannot start the impasto daemon"):
        local_daemon.start("127.0.0.1:50999", [str(tmp_path / "no-such-impasto")], log)


def test_the_settings_file_keeps_what_it_does_not_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("IMPASTO_CONFIG", str(path))
    path.write_text('# mine\nserver = "old:1"\n\n[serve]\nhost = "0.0.0.0"\ntoken_file = "/etc/impasto/token"\n')
    write_client_settings({"server": "gpu-box:50051", "token_file": "~/t", "tls_ca": "", "autostart": False})
    text = path.read_text()
    assert text.startswith("# mine\n") and "old:1" not in text
    assert tomllib.loads(text)["serve"] == {"host": "0.0.0.0", "token_file": "/etc/impasto/token"}
    settings = read_client_settings()
    assert (settings.server, settings.token_file, settings.tls_ca, settings.autostart) == (
        "gpu-box:50051", "~/t", None, False
    )  # fmt: skip
    write_client_settings({"server": None, "autostart": None})
    assert read_client_settings().server is None and read_client_settings().autostart
    with pytest.raises(ValueError, match="unknown setting"):
        path.write_text('sever = "typo:1"\n')
        read_client_settings()
