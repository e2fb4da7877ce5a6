"""The user's settings file: which daemon to talk to and how, and the defaults of `impasto serve`.

`$XDG_CONFIG_HOME/impasto/config.toml` (or the file `$IMPASTO_CONFIG` names), all keys optional:

    server = "gpu-box.local:50051"        # the daemon the commands talk to ($IMPASTO_SERVER wins over it)
    token_file = "~/.config/impasto/token"
    tls_ca = "~/.config/impasto/ca.pem"  # the CA of a daemon with a self-signed certificate (turns TLS on)
    tls = false                          # TLS with the system's trusted CAs
    autostart = true                     # editors start a daemon here when none answers (GIMP; Krita keeps its own)
    server_command = ["impasto"]         # ... with this command

The client's keys are read and written by impasto_client.settings_file (the GIMP plug-in edits them too).

    [serve]                              # defaults of `impasto serve`, by flag name
    host = "0.0.0.0"
    tls_cert = "/etc/impasto/cert.pem"
    tls_key = "/etc/impasto/key.pem"
    token_file = "/etc/impasto/token"
    models_dir = "/srv/impasto/models"

Flags given on the command line win over the file, and the environment over the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from impasto_client.settings_file import ClientSettings, check_client_keys, config_path, read_table

from .errors import InvalidInput

SERVE_KEYS = {
    "host": str, "port": int, "device": str, "max_jobs": int, "max_queue": int, "store_mb": int, "models_dir": str,
    "allow_remote": bool, "insecure": bool, "tls_cert": str, "tls_key": str, "token_file": str, "log_format": str,
    "log_level": str,
}  # fmt: skip


def config_dir() -> Path:
    return config_path().parent


@dataclass(frozen=True)
class UserConfig:
    client: ClientSettings = field(default_factory=ClientSettings)
    serve: dict[str, Any] = field(default_factory=dict)


def load() -> UserConfig:
    """The settings file, checked key by key; a missing file is no settings."""
    path = config_path()
    try:
        data = read_table(path)
        serve = data.pop("serve", {})
        if not isinstance(serve, dict):
            raise ValueError(f"{path}: [serve] must be a table of `impasto serve` settings")
        check_client_keys(data, path)
    except ValueError as err:
        raise InvalidInput(str(err)) from None
    for key, value in serve.items():
        if key not in SERVE_KEYS:
            raise InvalidInput(f"{path}: unknown setting serve.{key} (known: {', '.join(SERVE_KEYS)})")
        kind = SERVE_KEYS[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InvalidInput(f"{path}: serve.{key} must be a {kind.__name__}, not {value!r}")
    return UserConfig(ClientSettings(**data), serve)
