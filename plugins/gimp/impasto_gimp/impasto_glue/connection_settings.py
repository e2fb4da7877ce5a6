"""Connection Settings…: which daemon the plug-in talks to and how (token, TLS), kept in impasto's settings file.

The file is the one the CLI reads ($XDG_CONFIG_HOME/impasto/config.toml), so a painter sets a remote daemon up
once for both. Run interactively it shows the saved values in GIMP's own dialog; either way it saves what it was
given and then tries the connection, saying in one sentence what happened.
"""

from __future__ import annotations

from typing import Any

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, GObject  # noqa: E402

from .procedures import SETTINGS_LABEL, Failure, connect, runtime_failure  # noqa: E402

NAME = "python-fu-impasto-connection-settings"
_RW = GObject.ParamFlags.READWRITE
# PDB argument: (settings key, kind, label, help).
ARGUMENTS = (
    ("server", "server", str, "Daemon address", "host:port; empty means this computer (127.0.0.1:50051)"),
    ("token-file", "token_file", str, "Token file", "The daemon's token, a file made by 'impasto token new'"),
    ("tls-ca", "tls_ca", str, "CA certificate", "The daemon's CA (PEM) when its certificate is self-signed"),
    ("tls", "tls", bool, "Use TLS", "Connect with TLS (on whenever a CA certificate is given)"),
    ("autostart", "autostart", bool, "Start a local daemon", "Start a daemon on this computer when none answers"),
    ("daemon-command", "server_command", str, "Daemon command", "The command that runs impasto; empty: installer's"),
)


def create(plugin: Gimp.PlugIn, run: Any) -> Gimp.Procedure:
    procedure = Gimp.ImageProcedure.new(plugin, NAME, Gimp.PDBProcType.PLUGIN, run)
    # Open with or without an image: settings belong to no picture.
    procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.ALWAYS)
    procedure.set_menu_label(SETTINGS_LABEL.replace("S", "_S", 1))
    procedure.add_menu_path("<Image>/Filters/Artistic/impasto/")
    procedure.set_documentation(
        "Which impasto daemon to use, and its token and TLS certificate",
        "Saves the daemon's address, token file and CA certificate in impasto's settings file (shared with the "
        "impasto command), then tries the connection. See docs/remote.md for a daemon on another computer.",
        NAME,
    )
    procedure.set_attribution("impasto", "impasto contributors", "2026")
    for name, _key, kind, label, help_text in ARGUMENTS:
        if kind is bool:
            procedure.add_boolean_argument(name, label, help_text, name == "autostart", _RW)
        else:
            procedure.add_string_argument(name, label, help_text, "", _RW)
    procedure.add_string_return_value("status", "Status", "What trying the connection found, in a sentence", "", _RW)
    return procedure


def run(procedure: Gimp.Procedure, interactive: bool, config: Gimp.ProcedureConfig) -> str | None:
    """Saves the settings and returns what the connection test found; None when the painter cancelled."""
    try:
        import shlex

        from impasto_client.settings_file import read_client_settings, write_client_settings
    except ImportError as err:
        raise runtime_failure(err) from None
    if interactive:
        try:
            saved = read_client_settings()
        except ValueError as err:
            raise Failure(str(err)) from None
        for name, key, kind, _label, _help in ARGUMENTS:
            value = getattr(saved, key)
            config.set_property(name, shlex.join(value) if key == "server_command" else (value or kind()))
        if not _ask(procedure, config):
            return None
    values: dict[str, Any] = {}
    for name, key, _kind, _label, _help in ARGUMENTS:
        value = config.get_property(name)
        if key == "server_command":
            try:
                value = shlex.split(value or "")
            except ValueError as err:
                raise Failure(f"the daemon command is not valid: {err}") from None
        values[key] = value.strip() if isinstance(value, str) else value
    values["tls"] = bool(values["tls"] or values["tls_ca"])
    # Written as given: False for autostart must be kept, the other false values mean "not set".
    values["autostart"] = None if values["autostart"] else False
    try:
        path = write_client_settings(values)
    except (OSError, ValueError) as err:
        raise Failure(f"could not save the settings: {err}") from None
    try:
        client = connect(values["server"])
    except Failure as err:
        return f"saved in {path}; the connection failed: {err}"
    with client:
        return f"saved in {path}; connected to {client.connection.describe()}"


def _ask(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig) -> bool:
    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi

    GimpUi.init("impasto_gimp")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, "impasto: connection settings")
    dialog.fill(None)
    try:
        return bool(dialog.run())
    finally:
        dialog.destroy()
