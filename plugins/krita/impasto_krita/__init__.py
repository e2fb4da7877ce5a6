"""impasto for Krita: neural style transfer of a layer or a selection, as a new layer.

Editor glue only: Krita pixels ⇄ the thin client's images, the docker and the
menu actions. Everything else lives in the daemon and `impasto_client`, which
the installer vendors next to this package together with grpcio and protobuf
built for Krita's own Python.

Scripts (and tests) use `stylize_active`, and `train_style_active` to teach the
daemon a new style from the active layer:

    from impasto_krita import stylize_active, train_style_active
    stylize_active(method="gatys", style="/path/style.png", params={"steps": 50})
    stylize_active(method="cin", style=train_style_active("My sunset", effort="quick"))
"""

from __future__ import annotations

import os
import sys

_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor")
# First on the path: a system protobuf or grpc of another version must not shadow ours.
if os.path.isdir(_VENDOR) and _VENDOR not in sys.path:
    sys.path.insert(0, _VENDOR)

from .errors import StylizeError  # noqa: E402

# Set when the gRPC runtime does not load in this Python: the plugin then only says what to run.
LOAD_ERROR = ""
try:
    from .api import stylize_active, train_style_active
except ImportError as err:
    from . import runtime_missing

    LOAD_ERROR = runtime_missing.message(err)
    stylize_active = train_style_active = runtime_missing.failing(LOAD_ERROR)

__all__ = ["LOAD_ERROR", "StylizeError", "stylize_active", "train_style_active"]


def _in_krita() -> bool:
    try:
        from krita import Krita
    except ImportError:
        return False
    return Krita.instance() is not None


if _in_krita():
    if LOAD_ERROR:
        from .runtime_missing import register

        register(LOAD_ERROR)
    else:
        from .extension import register

        register()
