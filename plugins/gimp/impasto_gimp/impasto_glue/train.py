"""Train a Style: the active layer (or a picture file) in, a new real-time style in the daemon out.

What a name and an effort mean (the model kind, its settings, which names are usable) is
impasto_client.training's decision, shared with Krita; this module only gathers GIMP's
pixels and arguments, shows the progress and reports the style id. The image is only
read: training adds a style to the daemon, not anything to the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402

from . import options  # noqa: E402
from .options import OptionError  # noqa: E402
from .procedures import Failure, connect, load_picture, runtime_failure, show_progress  # noqa: E402

NAME = "python-fu-impasto-train-style"
LABEL = "_Train a Style…"
BLURB = "Teach impasto a new real-time style from the active layer or a picture file"
HELP = (
    "Trains a real-time style in the impasto daemon from the active layer (or from a picture file), under the "
    "given name. Effort 'quick' learns a style for the 26-style network in minutes on a CPU; 'good' trains a "
    "network of its own, an hour or more on a CPU. The new style id (e.g. cin:my-style) is returned and at once "
    "listed among the built-in styles of Neural Style. The image is not changed."
)
DEFAULT_EFFORT = "quick"


@dataclass(frozen=True)
class Trained:
    """A finished training: the id to stylize with, the method it belongs to, and the model's name."""

    style_id: str
    method: str
    name: str
    seconds: float


def active_layer(drawables: Sequence[Gimp.Drawable]) -> tuple[Gimp.Layer | None, str]:
    """The layer to learn from, or None and why it cannot be used (a file may still be given instead)."""
    if len(drawables) != 1:
        return None, "select exactly one layer, or give a style file"
    layer = drawables[0]
    if not isinstance(layer, Gimp.Layer):
        return None, "the active drawable is a channel or a layer mask; select a layer, or give a style file"
    if layer.is_group():
        # A group's pixels are its children's; training from one would surprise more than help.
        return None, "a group layer cannot be the style; select a pixel layer (or merge the group first)"
    return layer, ""


def run_training(
    procedure: Gimp.Procedure,
    interactive: bool,
    drawables: Sequence[Gimp.Drawable],
    config: Gimp.ProcedureConfig,
) -> Trained:
    """Runs one Train a Style call to the end; raises Failure with a message for the painter."""
    try:
        from impasto_client import ImpastoError, training
    except ImportError as err:
        raise runtime_failure(err) from None

    layer, no_layer = active_layer(drawables)
    if interactive:
        from . import dialog

        if not dialog.ask_training(procedure, config, layer, training.EFFORTS):
            raise Failure("cancelled", cancelled=True)
    style_file = (config.get_property("style-file") or "").strip()
    if not style_file and layer is None:
        raise Failure(no_layer)
    # Checked before connecting or uploading, so a typo is answered at once (the daemon checks them again).
    try:
        name = training.model_name(config.get_property("name") or "")
    except ImpastoError as err:
        raise Failure(f"name {config.get_property('name')!r}: {err.message}") from None
    effort = (config.get_property("effort") or "").strip().lower() or DEFAULT_EFFORT
    if effort not in training.EFFORTS:
        raise Failure(f"effort must be one of {', '.join(training.EFFORTS)}, not {effort!r}")
    try:
        overrides = options.parse_params(config.get_property("params") or "")
    except OptionError as err:
        raise Failure(str(err)) from None

    client = connect(config.get_property("server") or "")
    try:
        from . import pixels

        style = load_picture(style_file) if style_file else pixels.read(layer, pixels.STYLE_FORMAT)
        Gimp.progress_init(f"impasto: training {name}")
        call = training.train_style(
            client, style, name, effort, overrides=overrides, overwrite=bool(config.get_property("overwrite"))
        )
        # GIMP's progress Cancel kills this process; the dropped stream cancels the job, which stops after the
        # current step and keeps a checkpoint. Nothing was written to the image, so nothing needs undoing.
        done = call.result(lambda event: _show_progress(event, name))
    except ImpastoError as err:
        raise Failure(_in_gimp_words(err.message)) from None
    finally:
        client.close()
    return Trained(done.style_id, done.method, name, done.seconds)


def finished_message(trained: Trained) -> str:
    """What the painter is told at the end: the id, and where the style can now be picked."""
    return (
        f"the style '{trained.name}' is trained ({trained.seconds:.0f} s): {trained.style_id}. Pick it in "
        f"Filters ▸ Artistic ▸ impasto ▸ Neural Style… (method {trained.method}, Built-in style)."
    )


def _show_progress(event: Any, name: str) -> None:
    show_progress(
        *options.train_progress_text(
            event.kind, name, event.position, event.step, event.total, event.losses, event.eta_seconds
        )
    )


def _in_gimp_words(message: str) -> str:
    # The daemon words its refusals for the command line; say where the same switch is here.
    if "--overwrite" in message:
        message += " (in GIMP: set the overwrite argument, or tick “Replace a style of this name” in the dialog)"
    return message
