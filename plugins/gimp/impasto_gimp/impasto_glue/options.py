"""What the procedures' string arguments mean, kept free of GIMP so it is testable anywhere.

The daemon is the authority on methods and parameter values; this module only turns
the PDB's strings into the client's types and picks sensible defaults from the
daemon's own lists, so nothing here names a method except the photo procedure's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PRESERVE_COLOR_CHOICES = ("none", "luminance", "histogram")
# The method the Photo Style procedure needs.
PHOTO_METHOD = "photo"
SERVER_ENV = "IMPASTO_SERVER"
FALLBACK_ADDRESS = "127.0.0.1:50051"  # the client's DEFAULT_ADDRESS, without importing grpc to learn it

Scalar = bool | int | float | str


class OptionError(ValueError):
    """An argument the caller has to correct; the message says which and how."""


@dataclass(frozen=True)
class StyleChoice:
    """Where the style comes from: exactly one of builtin id, file path or layer."""

    builtin: str = ""
    path: str = ""
    layer: Any = None  # a Gimp.Drawable; typed loosely so this module needs no GIMP


def env_server() -> str:
    return os.environ.get(SERVER_ENV, "").strip()


def server_address(argument: str) -> str:
    """The daemon to talk to: the argument, else $IMPASTO_SERVER, else the default (the settings file's server
    comes between those two, see procedures.connect)."""
    return argument.strip() or env_server() or FALLBACK_ADDRESS


def parse_params(text: str) -> dict[str, Scalar]:
    """The `params` argument, a JSON object of scalars; values are checked by the daemon."""
    text = text.strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise OptionError(f'params must be a JSON object such as {{"steps": 200}}: {err}') from None
    if not isinstance(value, dict):
        raise OptionError(f'params must be a JSON object such as {{"steps": 200}}, not {text!r}')
    for name, item in value.items():
        # JSON null has no meaning for a parameter, and lists or objects never fit one.
        if item is None or isinstance(item, list | dict):
            raise OptionError(f"parameter '{name}' must be a number, true/false or text, not {json.dumps(item)}")
    return value


def dump_params(values: dict[str, Scalar]) -> str:
    return json.dumps(values, sort_keys=True)


def check_preserve_color(value: str) -> str:
    value = (value or "none").strip().lower()
    if value not in PRESERVE_COLOR_CHOICES:
        raise OptionError(f"preserve-color must be one of {', '.join(PRESERVE_COLOR_CHOICES)}, not {value!r}")
    return value


def style_choice(style: str, layer: Any, builtin_ids: Sequence[str]) -> StyleChoice:
    """Reads the `style` and `style-layer` arguments: a layer wins, then a built-in id, then a file."""
    if layer is not None:
        return StyleChoice(layer=layer)
    style = style.strip()
    if not style:
        raise OptionError("no style given: pass a built-in style id, an image file path, or a style layer")
    if style in builtin_ids:
        return StyleChoice(builtin=style)
    path = os.path.expanduser(style)
    if os.path.isfile(path):
        return StyleChoice(path=path)
    hint = ""
    if builtin_ids:
        hint = f"; built-in styles: {', '.join(builtin_ids[:8])}{' …' if len(builtin_ids) > 8 else ''}"
    raise OptionError(f"style {style!r} is neither a built-in style id nor an image file{hint}")


def pick_method(requested: str, style: StyleChoice, methods: Sequence[Any], styles: Sequence[Any]) -> Any:
    """The MethodInfo to run: the requested one, else the one the style fits best.

    `methods` and `styles` are the client's MethodInfo and StyleInfo lists, in the
    daemon's order, which is taken as its preference.
    """
    by_name = {m.name: m for m in methods}
    if requested.strip():
        method = by_name.get(requested.strip())
        if method is None:
            raise OptionError(f"the daemon has no method {requested!r}; it offers {', '.join(by_name) or 'none'}")
    elif style.builtin:
        owner = next((s.method for s in styles if s.id == style.builtin), "")
        method = by_name.get(owner) or next((m for m in methods if m.takes_builtin_styles), None)
    else:
        method = next((m for m in methods if m.takes_style_images and m.name != PHOTO_METHOD), None)
        method = method or next((m for m in methods if m.takes_style_images), None)
    if method is None:
        raise OptionError("the daemon offers no method that takes this kind of style")
    if style.builtin and not method.takes_builtin_styles:
        raise OptionError(f"method '{method.name}' takes style pictures, not built-in styles such as {style.builtin!r}")
    if not style.builtin and not method.takes_style_images:
        raise OptionError(f"method '{method.name}' only takes built-in styles; pick one of its styles")
    return method


def binary_mask(coverage: bytes) -> bytes:
    """Any selected pixel at full strength: GIMP itself blends soft selection edges afterwards.

    Sending soft values too would blend them twice (once in the daemon, once when
    GIMP merges the result through the selection).
    """
    return coverage.translate(_BINARY)


_BINARY = bytes([0] + [255] * 255)


def progress_text(kind: str, position: int = 0, stage: str = "", step: int = 0, total: int = 0) -> tuple[str, float]:
    """Status-bar text and fraction done (negative when unknown) for one daemon event."""
    if kind == "queued":
        return (f"impasto: waiting for the daemon ({position} job{'s' if position != 1 else ''} ahead)", -1.0)
    if kind == "progress" and total > 0:
        label = f"impasto: {stage} {step}/{total}" if stage else f"impasto: step {step}/{total}"
        return label, min(1.0, max(0.0, step / total))
    if kind == "result":
        return "impasto: fetching the result", 1.0
    return "impasto: working", -1.0


def train_progress_text(
    kind: str,
    name: str,
    position: int = 0,
    step: int = 0,
    total: int = 0,
    losses: dict[str, float] | None = None,
    eta_seconds: float = 0.0,
) -> tuple[str, float]:
    """Status-bar text and fraction done (negative when unknown) for one training event.

    The losses go into the text because a painter watching a long run wants to see it
    still learning; sorted so the text does not jump about between steps.
    """
    if kind == "queued":
        return progress_text(kind, position)
    if kind == "progress" and total > 0:
        # Imported here like the client elsewhere in the glue: the vendored client joins sys.path at run time.
        from impasto_client.training import format_duration, loss_summary

        text = f"impasto: training {name} {step}/{total}"
        if losses:
            text += " · " + loss_summary(losses)
        if eta_seconds >= 1:
            text += f" · {format_duration(eta_seconds)} left"
        return text, min(1.0, max(0.0, step / total))
    if kind == "model":
        return f"impasto: {name} is trained", 1.0
    return f"impasto: training {name}", -1.0
