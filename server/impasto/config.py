"""The user's settings file: which daemon to talk to and how, and the defaults of `impasto serve`.

`$XDG_CONFIG_HOME/impasto/config.toml` (or the file `$IMPASTO_CONFIG` names), all keys optional:

    server = "gpu-box.local:50051"        # the daemon the commands talk to ($IMPASTO_SERVER wins over it)
    token_file = "~/.config/impasto/token"
    tls_ca = "~/.config/impasto/ca.pem"  # the CA of a daemon with a self-signed certificate (turns TLS on)
    tls = false                          # TLS with the system's trusted CAs

    [serve]                              # defaults of `impasto serve`, by flag name
    host = "0.0.0.0"
    tls_cert = "/etc/impasto/cert.pem"
    tls_key = "/etc/impasto/key.pem"
    token_file = "/etc/impasto/token"
    models_dir = "/srv/impasto/models"

Flags given on the command line win over the file, and the environment over the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidInput

CLIENT_KEYS = {"server": str, "token_file": str, "tls_ca": str, "tls": bool}
SERVE_KEYS = {
    "host": str, "port": int, "device": str, "max_jobs": int, "max_queue": int, "store_mb": int, "models_dir": str,
    "allow_remote": bool, "insecure": bool, "tls_cert": str, "tls_key": str, "token_file": str, "log_format": str,
    "log_level": str,
}  # fmt: skip


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME")
    return (Path(base) if base else Path.home() / ".config") / "impasto"


def config_path() -> Path:
    named = os.environ.get("IMPASTO_CONFIG")
    return Path(named).expanduser() if named else config_dir() / "config.toml"


@dataclass(frozen=True)
class UserConfig:
    server: str | None = None
    token_file: str | None = None
    tls_ca: str | None = None
    tls: bool = False
    serve: dict[str, Any] = field(default_factory=dict)


def load() -> UserConfig:
    """The settings file, checked key by key; a missing file is no settings."""
    path = config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return UserConfig()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise InvalidInput(f"cannot read the settings file {path}: {err}") from None
    serve = data.pop("serve", {})
    if not isinstance(serve, dict):
        raise InvalidInput(f"{path}: [serve] must be a table of `impasto serve` settings")
    _check(data, CLIENT_KEYS, path, "")
    _check(serve, SERVE_KEYS, path, "serve.")
    return UserConfig(
        server=data.get("server"),
        token_file=data.get("token_file"),
        tls_ca=data.get("tls_ca"),
        tls=bool(data.get("tls", False)),
        serve=serve,
    )


def _check(table: dict[str, Any], keys: dict[str, type], path: Path, prefix: str) -> None:
    for key, value in table.items():
        if key not in keys:
            raise InvalidInput(f"{path}: unknown setting {prefix}{key} (known: {', '.join(keys)})")
        kind = keys[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InvalidInput(f"{path}: {prefix}{key} must be a {kind.__name__}, not {value!r}")
