"""The procedures' run: arguments in, a daemon job, a new layer out."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402

from . import options  # noqa: E402
from .options import OptionError  # noqa: E402

# A style picture larger than this is scaled down in GIMP before upload: the methods
# work at a few hundred pixels, and a 40-megapixel photo would only cost transfer time.
MAX_STYLE_SIDE = 2048
CONNECT_TIMEOUT_S = 3.0
SETTINGS_LABEL = "Connection Settings…"
PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


class Failure(Exception):
    """The procedure cannot go on; the message is for the painter or the script author."""

    def __init__(self, message: str, cancelled: bool = False) -> None:
        super().__init__(message)
        self.cancelled = cancelled


@dataclass(frozen=True)
class ProcedureSpec:
    name: str
    label: str
    blurb: str
    help: str
    preserve_color: str = "none"
    # True: the result is a full copy of the layer, stylized where selected.
    # False: a layer of just the selection, its soft edges kept in a layer mask.
    whole_layer: bool = True
    # A method the procedure is built around; a daemon without it is told apart from other failures.
    needs_method: str = ""


_STYLE_HELP = (
    "The style is a built-in style id, an image file, or a layer of an open image. A selection in the "
    "style layer's own image pairs with this image's selection: the selected part from the selected part, "
    "the rest from the rest. The result is added as a new layer above the active one; the active layer "
    "itself is never changed."
)
PROCEDURES = {
    spec.name: spec
    for spec in (
        ProcedureSpec(
            "python-fu-impasto-stylize",
            "Neural _Style…",
            "Paint the active layer in the style of another picture",
            "Stylizes the active layer (only the selected part when there is a selection) with the impasto "
            "daemon. " + _STYLE_HELP,
        ),
        ProcedureSpec(
            "python-fu-impasto-stylize-keep-colors",
            "Neural Style (keep _colours)…",
            "Take only the brushwork of a style, keeping the layer's colours",
            "Like Neural Style, with the layer's own colours preserved (preserve-color luminance by default). "
            + _STYLE_HELP,
            preserve_color="luminance",
        ),
        ProcedureSpec(
            "python-fu-impasto-stylize-selection",
            "Stylize Se_lection…",
            "Stylize the selected area into a layer of its own, masked by the selection",
            "Stylizes the selected part of the active layer into a new layer the size of the selection, "
            "whose layer mask is the selection, so soft edges stay editable. Needs a selection. " + _STYLE_HELP,
            whole_layer=False,
        ),
        ProcedureSpec(
            "python-fu-impasto-photo-style",
            "_Photo Style…",
            "Give a photo the colours and mood of another photo, keeping it photorealistic",
            "Runs the daemon's photorealistic method on the active layer with a style photo (a file or a "
            "layer). " + _STYLE_HELP,
            needs_method=options.PHOTO_METHOD,
        ),
    )
}


def connect(argument: str) -> Any:
    """A client the daemon accepts, or a Failure that tells the painter what to do.

    The address is the `server` argument, else $IMPASTO_SERVER, else the settings file's (Connection Settings…,
    shared with the CLI), else the default; the token and TLS always come from the settings file. When nothing
    answers on this computer, a daemon is started (as Krita does) unless the settings turn that off.
    """
    try:
        from impasto_client import Client, ImpastoError, local_daemon
        from impasto_client.settings_file import read_client_settings
    except ImportError as err:
        raise runtime_failure(err) from None
    try:
        settings = read_client_settings()
        address = options.server_address(argument) if argument.strip() or options.env_server() else ""
        connection = settings.connection(address or None)
    except ValueError as err:
        raise Failure(f"{err} (Filters ▸ Artistic ▸ impasto ▸ {SETTINGS_LABEL})") from None
    address = connection.address
    client = Client(connection)
    try:
        if client.answers(CONNECT_TIMEOUT_S):
            return client
        if settings.autostart and local_daemon.is_local(address) and not connection.tls:
            log_path = os.path.join(Gimp.directory(), "impasto", "daemon.log")
            show_progress("Starting the impasto daemon…", -1)
            try:
                process = local_daemon.start(address, settings.server_command or installed_command(), log_path)
            except ImpastoError as err:
                raise Failure(
                    f"the impasto daemon is not reachable at {address} and could not be started ({err.message}); "
                    f"start it with 'impasto serve'"
                ) from None
            if local_daemon.wait_until_ready(client, process) and client.answers(CONNECT_TIMEOUT_S):
                return client
            raise Failure(f"the impasto daemon started for {address} did not come up; see {log_path}")
    except ImpastoError as err:
        client.close()
        hint = f" (Filters ▸ Artistic ▸ impasto ▸ {SETTINGS_LABEL})" if err.code == "UNAUTHENTICATED" else ""
        raise Failure(err.message + hint) from None
    except Failure:
        client.close()
        raise
    client.close()
    raise Failure(
        f"the impasto daemon is not reachable at {address}. Start it with 'impasto serve' (or pass "
        f"another address in the server argument, or set it in {SETTINGS_LABEL} or ${options.SERVER_ENV})"
    )


def installed_command() -> list[str]:
    """The command that runs impasto: the installer's (install.json beside the plug-in), else `impasto` on PATH."""
    try:
        with open(os.path.join(PLUGIN_DIR, "install.json"), encoding="utf-8") as fh:
            command = json.load(fh).get("server_command")
    except (OSError, ValueError):
        command = None
    if isinstance(command, list) and command and all(isinstance(part, str) for part in command):
        return command
    found = shutil.which("impasto")
    return [found] if found else []


def runtime_failure(err: ImportError) -> Failure:
    """What to do when the vendored client or its gRPC runtime does not import in GIMP's Python."""
    return Failure(
        f"the plug-in's gRPC runtime does not load in GIMP's Python {_python_version()} ({err}); reinstall "
        f"it for this Python: impasto install-plugin gimp --python-version {_python_version()}"
    )


def _python_version() -> str:
    import sys

    return f"{sys.version_info.major}.{sys.version_info.minor}"


def run_procedure(
    spec: ProcedureSpec,
    procedure: Gimp.Procedure,
    interactive: bool,
    image: Gimp.Image,
    drawables: Sequence[Gimp.Drawable],
    config: Gimp.ProcedureConfig,
) -> Gimp.Layer:
    """Runs one procedure call to the end and returns the new layer; raises Failure."""
    try:
        from impasto_client import ImpastoError
        from impasto_client.selections import plan_selections

        from . import pixels
    except ImportError as err:
        raise runtime_failure(err) from None

    if len(drawables) != 1:
        raise Failure("select exactly one layer")
    source = drawables[0]
    if not isinstance(source, Gimp.Layer):
        raise Failure("the active drawable is a channel or a layer mask; select a layer")
    if source.is_group():
        raise Failure("group layers cannot be stylized; select a pixel layer (or merge the group first)")
    try:
        mask = pixels.selection_mask(image, source)
    except ValueError as err:
        raise Failure(str(err)) from None
    if not spec.whole_layer and mask is None:
        raise Failure("Stylize Selection needs a selection; select an area first")

    client = connect(config.get_property("server") or "")
    try:
        methods = client.list_methods()
        styles = client.list_styles()
        if spec.needs_method:
            methods = [m for m in methods if m.name == spec.needs_method]
            if not methods:
                raise Failure(f"the daemon at {client.address} has no '{spec.needs_method}' method any more")
        try:
            if interactive:
                from . import dialog

                if not dialog.ask(procedure, config, image, methods, styles):
                    raise Failure("cancelled", cancelled=True)
            choice = options.style_choice(
                config.get_property("style") or "", config.get_property("style-layer"), [s.id for s in styles]
            )
            method = options.pick_method(config.get_property("method") or "", choice, methods, styles)
            params = options.parse_params(config.get_property("params") or "")
            preserve = options.check_preserve_color(config.get_property("preserve-color") or "")
        except OptionError as err:
            raise Failure(str(err)) from None
        fmt = pixels.content_format(image, source)
        content = pixels.read(source, fmt)
        style_image = choice.layer.get_image() if choice.layer is not None else None
        plan = plan_selections(
            (content.width, content.height),
            mask,
            [choice.builtin or _style_picture(choice)],
            [_style_selection(choice.layer, style_image, image)],
            takes_label_maps=method.takes_label_maps,
            restrict=not spec.whole_layer,
            content_regions=pixels.saved_selections(image, source),
            style_regions=[pixels.saved_selections(style_image, choice.layer) if style_image is not None else None],
        )
        if plan.mask is not None and not method.takes_mask:
            raise Failure(f"method '{method.name}' cannot work on a selection; select none to stylize the layer")
        # Masked runs crop to the selection in the daemon, so previews would show only part.
        call = client.stylize(
            content,
            plan.styles,
            method=method.name,
            mask=plan.mask,
            params=params,
            preserve_color=preserve,
            content_labels=plan.content_labels,
            style_labels=plan.style_labels,
        )
        Gimp.progress_init(f"impasto: {method.title or method.name}")
        # GIMP's progress Cancel kills this process; the dropped stream then cancels the job
        # in the daemon, and the image is untouched because the layer is only made below.
        result = call.result(_show_progress)
    except ImpastoError as err:
        raise Failure(err.message) from None
    finally:
        client.close()
    if (result.width, result.height) != (content.width, content.height):
        raise Failure(
            f"the daemon returned a {result.width}x{result.height} image for a {content.width}x{content.height} layer"
        )

    Gimp.progress_set_text("impasto: adding the layer")
    label = f"{method.name}, {plan.summary}" if plan.summary else method.name
    return _add_layer(spec, image, source, result, fmt, label, through_selection=plan.mask is not None)


def _show_progress(event: Any) -> None:
    show_progress(*options.progress_text(event.kind, event.position, event.stage, event.step, event.total))


def show_progress(text: str, fraction: float) -> None:
    """GIMP's progress bar: the text, and the fraction done or, when that is unknown (negative), a pulse."""
    Gimp.progress_set_text(text)
    if fraction < 0:
        Gimp.progress_pulse()
    else:
        Gimp.progress_update(fraction)


def _style_picture(choice: options.StyleChoice) -> Any:
    """The style as a wire image: a layer read as it is, or a file opened by GIMP's own loaders."""
    from . import pixels

    if choice.layer is not None:
        return pixels.read(choice.layer, pixels.STYLE_FORMAT)
    return load_picture(choice.path)


def load_picture(path: str) -> Any:
    """A picture file as a wire image, opened by GIMP's own loaders (so every format GIMP reads works),
    flattened and scaled down to MAX_STYLE_SIDE; the image GIMP opened for it is deleted again."""
    from . import pixels

    try:
        loaded = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(path))
    except Exception as err:  # GLib.Error from the loader
        raise Failure(f"GIMP cannot open the style image {path}: {err}") from None
    if loaded is None:
        raise Failure(f"GIMP cannot open the style image {path}")
    try:
        w, h = loaded.get_width(), loaded.get_height()
        if max(w, h) > MAX_STYLE_SIDE:
            scale = MAX_STYLE_SIDE / max(w, h)
            loaded.scale(max(1, round(w * scale)), max(1, round(h * scale)))
        return pixels.read(loaded.flatten(), pixels.STYLE_FORMAT)
    finally:
        loaded.delete()


def _style_selection(layer: Gimp.Layer | None, style_image: Gimp.Image | None, image: Gimp.Image) -> Any:
    """What is selected of a style layer in another image; None for files, built-ins and
    layers of the content's own image (whose selection says what to stylize)."""
    from . import pixels

    if layer is None or style_image is None or style_image == image:
        return None
    try:
        return pixels.selection_mask(style_image, layer)
    except ValueError:
        return None  # that image's selection lies beside the style layer: the whole layer is the style


def _add_layer(
    spec: ProcedureSpec,
    image: Gimp.Image,
    source: Gimp.Layer,
    result: Any,
    fmt: Any,
    label: str,
    through_selection: bool = True,
) -> Gimp.Layer:
    """Inserts the result above `source` as one undo step; `source` is only read.

    `label` (the method, and how selections shaped the job) goes into the layer's name.
    `through_selection` False: the whole layer was stylized (selections paired), so all
    of it is written, whatever is selected."""
    from . import pixels

    parent = source.get_parent()
    position = image.get_item_position(source)
    # False where a script disabled undo: the layer is still made, just not undoable.
    grouped = image.undo_group_start()
    try:
        if spec.whole_layer:
            # A copy keeps the layer's mode, opacity, offsets and precision; the stylized
            # pixels are then merged through the selection like any GIMP filter's.
            layer = source.copy()
            layer.set_name(f"{source.get_name()} (impasto {label})")
            image.insert_layer(layer, parent, position)
            if not through_selection:
                pixels.write(layer, result, fmt, 0, 0, result.width, result.height)
            else:
                ok, x, y, w, h = layer.mask_intersect()
                if ok and w > 0 and h > 0:
                    pixels.merge_through_selection(layer, result, fmt, x, y, w, h)
        else:
            ok, x, y, w, h = source.mask_intersect()
            if not ok or w <= 0 or h <= 0:
                raise Failure("the selection does not touch this layer")
            kind = Gimp.ImageType.GRAYA_IMAGE if source.is_gray() else Gimp.ImageType.RGBA_IMAGE
            layer = Gimp.Layer.new(
                image, f"{source.get_name()} (impasto {label}, selection)", w, h, kind, 100.0, Gimp.LayerMode.NORMAL
            )
            _, off_x, off_y = source.get_offsets()
            image.insert_layer(layer, parent, position)
            layer.set_offsets(off_x + x, off_y + y)
            pixels.write(layer, result, fmt, x, y, w, h)
            layer.add_mask(layer.create_mask(Gimp.AddMaskType.SELECTION))
    finally:
        if grouped:
            image.undo_group_end()
    return layer
