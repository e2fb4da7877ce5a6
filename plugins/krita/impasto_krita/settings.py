"""Connection settings, kept in kritarc's [impasto] group so they survive restarts."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Any

from impasto_client import DEFAULT_ADDRESS, Connection

from .errors import StylizeError

GROUP = "impasto"
# Written by `impasto install-plugin krita`: how to start the daemon that installed us.
INSTALL_INFO = os.path.join(os.path.dirname(__file__), "install.json")


def _krita() -> Any:
    """The Krita singleton, or None outside Krita (unit tests)."""
    try:
        from krita import Krita
    except ImportError:
        return None
    return Krita.instance()


def install_info() -> dict:
    try:
        with open(INSTALL_INFO, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def default_server_command() -> list[str]:
    """The daemon's command line without 'serve': the installer's, else `impasto` on PATH."""
    command = install_info().get("server_command")
    if isinstance(command, list) and command and all(isinstance(part, str) for part in command):
        return command
    found = shutil.which("impasto")
    return [found] if found else []


@dataclass
class Settings:
    address: str = DEFAULT_ADDRESS
    autostart: bool = True
    # Empty means default_server_command().
    server_command: list[str] = field(default_factory=list)
    # A remote daemon (docs/remote.md): its token file (from 'impasto token new'), and TLS, trusting this CA
    # certificate (PEM) when the daemon's is self-signed, else the system's roots.
    token_file: str = ""
    tls: bool = False
    tls_ca: str = ""

    @classmethod
    def load(cls) -> Settings:
        krita = _krita()
        if krita is None:
            return cls()
        command = krita.readSetting(GROUP, "server_command", "")
        try:
            parsed = json.loads(command) if command else []
        except ValueError:
            parsed = []
        return cls(
            address=krita.readSetting(GROUP, "address", DEFAULT_ADDRESS) or DEFAULT_ADDRESS,
            autostart=krita.readSetting(GROUP, "autostart", "true") == "true",
            server_command=parsed if isinstance(parsed, list) else [],
            token_file=krita.readSetting(GROUP, "token_file", ""),
            tls=krita.readSetting(GROUP, "tls", "false") == "true",
            tls_ca=krita.readSetting(GROUP, "tls_ca", ""),
        )

    def save(self) -> None:
        krita = _krita()
        if krita is None:
            return
        krita.writeSetting(GROUP, "address", self.address)
        krita.writeSetting(GROUP, "autostart", "true" if self.autostart else "false")
        krita.writeSetting(GROUP, "server_command", json.dumps(self.server_command) if self.server_command else "")
        krita.writeSetting(GROUP, "token_file", self.token_file)
        krita.writeSetting(GROUP, "tls", "true" if self.tls else "false")
        krita.writeSetting(GROUP, "tls_ca", self.tls_ca)

    def command(self) -> list[str]:
        return self.server_command or default_server_command()

    def connection(self, address: str | None = None) -> Connection:
        """How to reach the daemon at `address` (default: the saved one) with the saved token and TLS settings."""
        try:
            token, ca = self.token_file or None, self.tls_ca or None
            return Connection.from_files(address or self.address, token, ca, self.tls)
        except ValueError as err:
            raise StylizeError("FAILED_PRECONDITION", f"{err} (impasto docker ▸ Settings)") from None


def read_value(key: str, default: str = "") -> str:
    krita = _krita()
    return krita.readSetting(GROUP, key, default) if krita is not None else default


def write_value(key: str, value: str) -> None:
    krita = _krita()
    if krita is not None:
        krita.writeSetting(GROUP, key, value)
