"""The interactive dialog, built from what the daemon lists rather than from the procedure's arguments.

GimpUi.ProcedureDialog can only show the PDB arguments, which are strings here
because the methods and their parameters are the daemon's and change with it. So
this is a small Gtk dialog that reads ListMethods/ListStyles and writes the same
string arguments back into the procedure config; GIMP then remembers them as the
last values, and "Repeat" runs them again without the dialog.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gimp, GimpUi, Gtk  # noqa: E402

from . import options  # noqa: E402

_PRESERVE_LABELS = {
    "none": "No: take the style's colours",
    "luminance": "Luminance: keep the layer's colours",
    "histogram": "Histogram: recolour the style like the layer first",
}


def ask(
    procedure: Gimp.Procedure,
    config: Gimp.ProcedureConfig,
    image: Gimp.Image,
    methods: Sequence[Any],
    styles: Sequence[Any],
) -> bool:
    """Shows the dialog; on OK writes the choices into `config` and returns True."""
    if not methods:
        raise options.OptionError("the daemon offers no method for this procedure")
    GimpUi.init("impasto_gimp")
    return _run_until_stored(_Dialog(procedure, config, image, methods, styles))


def ask_training(
    procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, layer: Gimp.Layer | None, efforts: Mapping[str, Any]
) -> bool:
    """Shows the Train a Style dialog; on OK writes the choices into `config` and returns True.

    `layer` is the active layer to learn from, None where there is no usable one (a file must be picked);
    `efforts` are impasto_client.training.EFFORTS, so the choices and their hints are the shared client's.
    """
    GimpUi.init("impasto_gimp")
    return _run_until_stored(_TrainDialog(procedure, config, layer, efforts))


def _run_until_stored(dialog: _Dialog | _TrainDialog) -> bool:
    """Runs the dialog until OK with usable choices (True) or Cancel (False); a problem keeps it open."""
    try:
        while True:
            if dialog.run() != Gtk.ResponseType.OK:
                return False
            problem = dialog.store()
            if problem is None:
                return True
            _complain(dialog.window, problem)
    finally:
        dialog.window.destroy()


def _complain(parent: Gtk.Window, text: str) -> None:
    box = Gtk.MessageDialog(
        transient_for=parent, modal=True, message_type=Gtk.MessageType.WARNING, buttons=Gtk.ButtonsType.OK, text=text
    )
    box.run()
    box.destroy()


def _style_layers() -> list[tuple[str, Gimp.Layer]]:
    """Every pixel layer of every open image, labelled "image ▸ layer", for the style-layer choice."""
    found: list[tuple[str, Gimp.Layer]] = []

    def walk(image_name: str, layers: Sequence[Gimp.Layer], prefix: str) -> None:
        for layer in layers:
            if layer.is_group():
                walk(image_name, layer.get_children(), f"{prefix}{layer.get_name()} ▸ ")
            else:
                found.append((f"{image_name} ▸ {prefix}{layer.get_name()}", layer))

    for image in Gimp.get_images():
        walk(image.get_name() or "Untitled", image.get_layers(), "")
    return found


class _Dialog:
    def __init__(
        self,
        procedure: Gimp.Procedure,
        config: Gimp.ProcedureConfig,
        image: Gimp.Image,
        methods: Sequence[Any],
        styles: Sequence[Any],
    ) -> None:
        self.config = config
        self.methods = {m.name: m for m in methods}
        self.styles = list(styles)
        self.layers = _style_layers()
        self.param_widgets: dict[str, tuple[Any, Gtk.Widget]] = {}
        self.saved_params = _saved_params(config)
        # With no method named, the given params belong to the method shown first.
        saved = config.get_property("method") or ""
        self.saved_method = saved if saved in self.methods else methods[0].name

        self.window = GimpUi.Dialog(title=procedure.get_menu_label().replace("_", ""), role="impasto", modal=True)
        self.window.add_button("_Cancel", Gtk.ResponseType.CANCEL)
        self.window.add_button("_OK", Gtk.ResponseType.OK)
        self.window.set_default_response(Gtk.ResponseType.OK)
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8, margin=12)
        self.window.get_content_area().pack_start(box, True, True, 0)

        self.method = Gtk.ComboBoxText()
        for m in methods:
            self.method.append(m.name, m.title or m.name)
        self.description = Gtk.Label(xalign=0.0, wrap=True, max_width_chars=60)
        box.pack_start(_row("Method", self.method), False, False, 0)
        box.pack_start(self.description, False, False, 0)

        style_frame = Gtk.Frame(label="Style")
        grid = Gtk.Grid(row_spacing=6, column_spacing=8, margin=8)
        style_frame.add(grid)
        self.use_builtin = Gtk.RadioButton.new_with_mnemonic(None, "_Built-in style")
        self.use_file = Gtk.RadioButton.new_with_mnemonic_from_widget(self.use_builtin, "Image _file")
        self.use_layer = Gtk.RadioButton.new_with_mnemonic_from_widget(self.use_builtin, "Open _layer")
        self.builtin = Gtk.ComboBoxText()
        self.file = Gtk.FileChooserButton(title="Style picture", action=Gtk.FileChooserAction.OPEN)
        pictures = Gtk.FileFilter()
        pictures.set_name("Pictures")
        pictures.add_pixbuf_formats()
        self.file.add_filter(pictures)
        self.layer = Gtk.ComboBoxText()
        for index, (label, _layer) in enumerate(self.layers):
            self.layer.append(str(index), label)
        for row, (radio, widget) in enumerate(
            ((self.use_builtin, self.builtin), (self.use_file, self.file), (self.use_layer, self.layer))
        ):
            grid.attach(radio, 0, row, 1, 1)
            widget.set_hexpand(True)
            grid.attach(widget, 1, row, 1, 1)
        box.pack_start(style_frame, False, False, 0)

        params_frame = Gtk.Frame(label="Parameters")
        self.params_grid = Gtk.Grid(row_spacing=4, column_spacing=8, margin=8)
        scroller = Gtk.ScrolledWindow(hscrollbar_policy=Gtk.PolicyType.NEVER, min_content_height=220)
        scroller.add(self.params_grid)
        params_frame.add(scroller)
        box.pack_start(params_frame, True, True, 0)

        self.preserve = Gtk.ComboBoxText()
        for value in options.PRESERVE_COLOR_CHOICES:
            self.preserve.append(value, _PRESERVE_LABELS[value])
        self.preserve.set_active_id(config.get_property("preserve-color") or "none")
        box.pack_start(_row("Keep colours", self.preserve), False, False, 0)

        self.server = Gtk.Entry(text=config.get_property("server") or "", hexpand=True)
        self.server.set_placeholder_text(options.server_address(""))
        box.pack_start(_row("Daemon", self.server), False, False, 0)

        self._restore_style(config)
        self.method.connect("changed", lambda _combo: self._method_changed())
        self.method.set_active_id(self.saved_method)
        self._method_changed()
        self.window.show_all()

    def run(self) -> int:
        return self.window.run()

    def _restore_style(self, config: Gimp.ProcedureConfig) -> None:
        layer = config.get_property("style-layer")
        style = config.get_property("style") or ""
        index = next((i for i, (_label, candidate) in enumerate(self.layers) if candidate == layer), None)
        if self.layers:
            self.layer.set_active_id(str(index or 0))
        if index is not None:
            self.use_layer.set_active(True)
        elif style and os.path.isfile(style):
            self.file.set_filename(style)
            self.use_file.set_active(True)
        self.restored_builtin = style

    def _method(self) -> Any:
        return self.methods[self.method.get_active_id()]

    def _method_changed(self) -> None:
        method = self._method()
        self.description.set_text(method.description)
        self.builtin.remove_all()
        for s in self.styles:
            if s.method == method.name:
                self.builtin.append(s.id, s.name or s.id)
        if not self.builtin.set_active_id(self.restored_builtin):
            self.builtin.set_active(0)
        has_builtin = method.takes_builtin_styles and any(s.method == method.name for s in self.styles)
        for widget in (self.use_builtin, self.builtin):
            widget.set_sensitive(has_builtin)
        for widget in (self.use_file, self.file, self.use_layer, self.layer):
            widget.set_sensitive(method.takes_style_images)
        if has_builtin and not method.takes_style_images:
            self.use_builtin.set_active(True)
        elif not has_builtin and self.use_builtin.get_active():
            self.use_file.set_active(True)
        self.preserve.set_sensitive(method.supports_preserve_color)
        self._build_params(method)

    def _build_params(self, method: Any) -> None:
        for child in self.params_grid.get_children():
            self.params_grid.remove(child)
        self.param_widgets.clear()
        saved = self.saved_params if method.name == self.saved_method else {}
        for row, param in enumerate(method.params):
            widget = _param_widget(param, saved.get(param.name, param.default))
            widget.set_tooltip_text(param.help)
            label = Gtk.Label(label=param.name.replace("_", " "), xalign=1.0)
            label.set_tooltip_text(param.help)
            self.params_grid.attach(label, 0, row, 1, 1)
            self.params_grid.attach(widget, 1, row, 1, 1)
            self.param_widgets[param.name] = (param, widget)
        self.params_grid.show_all()

    def store(self) -> str | None:
        """Writes the choices into the config; returns what is missing, if anything."""
        method = self._method()
        style, layer = "", None
        if self.use_layer.get_active() and method.takes_style_images:
            index = self.layer.get_active_id()
            if index is None:
                return "Choose the layer to take the style from."
            layer = self.layers[int(index)][1]
        elif self.use_file.get_active() and method.takes_style_images:
            style = self.file.get_filename() or ""
            if not style:
                return "Choose the picture to take the style from."
        else:
            style = self.builtin.get_active_id() or ""
            if not style:
                return "Choose a built-in style."
        values: dict[str, options.Scalar] = {}
        for name, (param, widget) in self.param_widgets.items():
            value = _widget_value(param, widget)
            # Only changed values are kept, so a script stays valid when a default improves.
            if value != param.default:
                values[name] = value
        self.config.set_property("method", method.name)
        self.config.set_property("style", style)
        self.config.set_property("style-layer", layer)
        self.config.set_property("params", options.dump_params(values))
        self.config.set_property("preserve-color", self.preserve.get_active_id() or "none")
        self.config.set_property("server", self.server.get_text().strip())
        return None


class _TrainDialog:
    def __init__(
        self,
        procedure: Gimp.Procedure,
        config: Gimp.ProcedureConfig,
        layer: Gimp.Layer | None,
        efforts: Mapping[str, Any],
    ) -> None:
        self.config = config
        self.window = GimpUi.Dialog(title=procedure.get_menu_label().replace("_", ""), role="impasto-train", modal=True)
        self.window.add_button("_Cancel", Gtk.ResponseType.CANCEL)
        self.window.add_button("_Train", Gtk.ResponseType.OK)
        self.window.set_default_response(Gtk.ResponseType.OK)
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8, margin=12)
        self.window.get_content_area().pack_start(box, True, True, 0)

        # A layer's name is usually what the painter would call the style anyway.
        saved_name = config.get_property("name") or (layer.get_name() if layer is not None else "")
        self.name = Gtk.Entry(text=saved_name, activates_default=True)
        self.saved_as = Gtk.Label(xalign=0.0)
        self.name.connect("changed", lambda _entry: self._name_changed())
        box.pack_start(_row("Name", self.name), False, False, 0)
        box.pack_start(self.saved_as, False, False, 0)

        effort_frame = Gtk.Frame(label="Effort")
        effort_box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=4, margin=8)
        effort_frame.add(effort_box)
        self.efforts: dict[str, Gtk.RadioButton] = {}
        group = None
        for key, effort in efforts.items():
            radio = Gtk.RadioButton.new_with_label_from_widget(group, f"{effort.label}: {effort.hint}")
            group = group or radio
            effort_box.pack_start(radio, False, False, 0)
            self.efforts[key] = radio
        saved_effort = (config.get_property("effort") or "").strip().lower()
        if saved_effort in self.efforts:
            self.efforts[saved_effort].set_active(True)
        box.pack_start(effort_frame, False, False, 0)

        style_frame = Gtk.Frame(label="Learn the style from")
        grid = Gtk.Grid(row_spacing=6, column_spacing=8, margin=8)
        style_frame.add(grid)
        layer_name = layer.get_name() if layer is not None else "none usable"
        self.use_layer = Gtk.RadioButton.new_with_mnemonic(None, f"The active _layer ({layer_name})")
        self.use_file = Gtk.RadioButton.new_with_mnemonic_from_widget(self.use_layer, "An image _file")
        self.file = Gtk.FileChooserButton(title="Style picture", action=Gtk.FileChooserAction.OPEN, hexpand=True)
        pictures = Gtk.FileFilter()
        pictures.set_name("Pictures")
        pictures.add_pixbuf_formats()
        self.file.add_filter(pictures)
        grid.attach(self.use_layer, 0, 0, 2, 1)
        grid.attach(self.use_file, 0, 1, 1, 1)
        grid.attach(self.file, 1, 1, 1, 1)
        self.use_layer.set_sensitive(layer is not None)
        saved_file = config.get_property("style-file") or ""
        if saved_file and os.path.isfile(saved_file):
            self.file.set_filename(saved_file)
        if layer is None or (saved_file and os.path.isfile(saved_file)):
            self.use_file.set_active(True)
        box.pack_start(style_frame, False, False, 0)

        self.params = Gtk.Entry(text=config.get_property("params") or "{}")
        self.params.set_tooltip_text(
            'Settings that override the effort\'s, as JSON, e.g. {"steps": 500}; impasto trainers lists them'
        )
        box.pack_start(_row("Settings", self.params), False, False, 0)
        self.overwrite = Gtk.CheckButton(label="Replace a style of this name", active=config.get_property("overwrite"))
        box.pack_start(self.overwrite, False, False, 0)
        self.server = Gtk.Entry(text=config.get_property("server") or "", hexpand=True)
        self.server.set_placeholder_text(options.server_address(""))
        box.pack_start(_row("Daemon", self.server), False, False, 0)
        self._name_changed()
        self.window.show_all()

    def run(self) -> int:
        return self.window.run()

    def _name_changed(self) -> None:
        problem, name = _model_name(self.name.get_text())
        self.saved_as.set_text(problem or f"Saved under the name {name}")

    def store(self) -> str | None:
        """Writes the choices into the config; returns what is missing, if anything."""
        problem, _name = _model_name(self.name.get_text())
        if problem:
            return problem
        style_file = ""
        if self.use_file.get_active():
            style_file = self.file.get_filename() or ""
            if not style_file:
                return "Choose the picture to learn the style from."
        try:
            options.parse_params(self.params.get_text())
        except options.OptionError as err:
            return f"Settings: {err}"
        effort = next((key for key, radio in self.efforts.items() if radio.get_active()), "")
        self.config.set_property("name", self.name.get_text().strip())
        self.config.set_property("effort", effort)
        self.config.set_property("style-file", style_file)
        self.config.set_property("params", self.params.get_text().strip() or "{}")
        self.config.set_property("overwrite", self.overwrite.get_active())
        self.config.set_property("server", self.server.get_text().strip())
        return None


def _model_name(text: str) -> tuple[str, str]:
    """(problem, name): the name the daemon will store the style under, by the shared client's rule."""
    from impasto_client import ImpastoError
    from impasto_client.training import model_name

    try:
        return "", model_name(text)
    except ImpastoError as err:
        return f"Name: {err.message}", ""


def _row(label: str, widget: Gtk.Widget) -> Gtk.Box:
    row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=8)
    row.pack_start(Gtk.Label(label=label, xalign=0.0, width_chars=12), False, False, 0)
    widget.set_hexpand(True)
    row.pack_start(widget, True, True, 0)
    return row


def _saved_params(config: Gimp.ProcedureConfig) -> dict[str, options.Scalar]:
    try:
        return options.parse_params(config.get_property("params") or "")
    except options.OptionError:
        return {}


def _param_widget(param: Any, value: Any) -> Gtk.Widget:
    if param.type == "bool":
        return Gtk.CheckButton(active=bool(value))
    if param.type == "choice":
        combo = Gtk.ComboBoxText()
        for choice in param.choices:
            combo.append(choice, choice)
        combo.set_active_id(str(value))
        return combo
    if param.type in ("int", "float"):
        lower = param.minimum if param.minimum is not None else -1e9
        upper = param.maximum if param.maximum is not None else 1e9
        is_int = param.type == "int"
        step = 1.0 if is_int else _float_step(lower, upper)
        adjustment = Gtk.Adjustment(
            value=float(value or 0), lower=lower, upper=upper, step_increment=step, page_increment=step * 10
        )
        return Gtk.SpinButton(adjustment=adjustment, digits=0 if is_int else 4, numeric=True)
    return Gtk.Entry(text="" if value is None else str(value))


def _float_step(lower: float, upper: float) -> float:
    span = upper - lower
    return 0.01 if span <= 2 else 0.1 if span <= 100 else 1.0


def _widget_value(param: Any, widget: Gtk.Widget) -> options.Scalar:
    if param.type == "bool":
        return widget.get_active()
    if param.type == "choice":
        return widget.get_active_id() or ""
    if param.type == "int":
        return widget.get_value_as_int()
    if param.type == "float":
        return round(widget.get_value(), 6)
    return widget.get_text()
