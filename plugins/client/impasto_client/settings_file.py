"""The user's settings file, shared by the CLI and the GIMP plug-in: which daemon, and how to reach it.

`$XDG_CONFIG_HOME/impasto/config.toml` (or the file `$IMPASTO_CONFIG` names). The client's keys sit at the top;
`impasto serve` keeps its own defaults in a [serve] table of the same file, which this module leaves alone.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .connection import DEFAULT_ADDRESS, Connection

# Key: (type, what it means), checked when read and written.
CLIENT_KEYS: dict[str, tuple[type, str]] = {
    "server": (str, "the daemon's address, host:port"),
    "token_file": (str, "the daemon's token, a file made by 'impasto token new'"),
    "tls_ca": (str, "the CA certificate (PEM) of a daemon with its own certificate; turns TLS on"),
    "tls": (bool, "TLS with the system's trusted CAs"),
    "autostart": (bool, "editors start a daemon on this computer when none answers"),
    "server_command": (list, "the command that runs impasto, for editors that start the daemon"),
}


def config_path() -> Path:
    named = os.environ.get("IMPASTO_CONFIG")
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME")
    return (Path(base) if base else Path.home() / ".config") / "impasto" / "config.toml"


@dataclass(frozen=True)
class ClientSettings:
    server: str | None = None
    token_file: str | None = None
    tls_ca: str | None = None
    tls: bool = False
    autostart: bool = True
    server_command: list[str] = field(default_factory=list)

    def connection(self, address: str | None = None) -> Connection:
        """How to reach `address` (default: the settings' server) with these settings' token and TLS; ValueError
        with a sentence when a named file cannot be read."""
        return Connection.from_files(address or self.server or DEFAULT_ADDRESS, self.token_file, self.tls_ca, self.tls)


def read_table(path: Path | None = None) -> dict[str, Any]:
    """The whole file as a table; a missing file is an empty one. ValueError names the file and the fault."""
    import tomllib  # Python 3.11 on; the editors that embed 3.10 (Krita's Windows and macOS builds) keep settings

    path = path or config_path()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"cannot read the settings file {path}: {err}") from None


def check_client_keys(table: dict[str, Any], path: Path) -> None:
    for key, value in table.items():
        if key not in CLIENT_KEYS:
            raise ValueError(f"{path}: unknown setting {key} (known: {', '.join(CLIENT_KEYS)})")
        kind = CLIENT_KEYS[key][0]
        if not isinstance(value, kind) or (kind is list and not all(isinstance(part, str) for part in value)):
            raise ValueError(f"{path}: {key} must be a {'list of strings' if kind is list else kind.__name__}")


def read_client_settings(path: Path | None = None) -> ClientSettings:
    path = path or config_path()
    table = {k: v for k, v in read_table(path).items() if not isinstance(v, dict)}
    check_client_keys(table, path)
    return ClientSettings(**table)


def write_client_settings(values: dict[str, Any], path: Path | None = None) -> Path:
    """Sets (or, for None, "" and [], removes) the client's keys, keeping every other line of the file as it was."""
    path = path or config_path()
    check_client_keys({k: v for k, v in values.items() if v not in (None, "", [])}, path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    table_start = re.search(r"(?m)^\s*\[", text)
    top, rest = (text[: table_start.start()], text[table_start.start() :]) if table_start else (text, "")
    for key, value in values.items():
        top = re.sub(rf"(?m)^{key}\s*=.*\n?", "", top)
        if value not in (None, "", []):
            # JSON's strings, booleans and lists of strings are TOML's too.
            top = top.rstrip("\n") + ("\n" if top.strip() else "") + f"{key} = {json.dumps(value)}\n"
    text = top + ("\n" if rest and top.strip() else "") + rest
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".new")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path
