#!/usr/bin/env python3
"""impasto for GIMP 3: neural style transfer under Filters ▸ Artistic ▸ impasto.

A thin plug-in: it reads the active layer and the selection, hands them to the
impasto daemon through the thin client, and adds the daemon's result as a new
layer. Methods, parameters and built-in styles all come from the daemon.
Train a Style hands a layer or picture to the daemon to learn a new style from.
"""

from __future__ import annotations

import os
import sys

# The installer puts the thin client and a gRPC runtime built for GIMP's own Python
# in vendor/; it goes first so an older system protobuf cannot shadow it.
_HERE = os.path.dirname(os.path.realpath(__file__))
sys.path[:0] = [os.path.join(_HERE, "vendor"), _HERE]

import gi  # noqa: E402

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gimp, GLib, GObject  # noqa: E402
from impasto_glue import connection_settings, options, train  # noqa: E402
from impasto_glue.procedures import PROCEDURES, Failure, ProcedureSpec  # noqa: E402

_RW = GObject.ParamFlags.READWRITE


class ImpastoPlugIn(Gimp.PlugIn):
    """Registers the procedures and runs them; the work itself is in impasto_glue."""

    def do_set_i18n(self, name: str) -> bool:
        return False

    def do_query_procedures(self) -> list[str]:
        # Registered once and cached by GIMP in pluginrc; none needs a daemon running to appear.
        return [*PROCEDURES, train.NAME, connection_settings.NAME]

    def do_create_procedure(self, name: str) -> Gimp.Procedure:
        if name == train.NAME:
            return self._create_training()
        if name == connection_settings.NAME:
            return connection_settings.create(self, self._run_settings)
        spec = PROCEDURES[name]
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, lambda *args: self._run(spec, *args))
        procedure.set_image_types("RGB*, GRAY*")
        # Exactly one drawable: the menu entry is greyed out otherwise.
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label(spec.label)
        procedure.add_menu_path("<Image>/Filters/Artistic/impasto/")
        procedure.set_documentation(spec.blurb, spec.help, name)
        procedure.set_attribution("impasto", "impasto contributors", "2025")
        procedure.add_string_argument(
            "method",
            "Method",
            "A method the daemon lists (impasto methods); empty picks one that fits the style",
            spec.needs_method,
            _RW,
        )
        procedure.add_string_argument(
            "style", "Style", "A built-in style id (impasto styles) or the path of an image file", "", _RW
        )
        procedure.add_drawable_argument(
            "style-layer", "Style layer", "A layer of any open image to use as the style (overrides style)", True, _RW
        )
        procedure.add_string_argument(
            "params", "Parameters", 'The method\'s parameters as a JSON object, e.g. {"steps": 200}', "{}", _RW
        )
        procedure.add_string_argument(
            "preserve-color", "Preserve colour", "none, luminance or histogram", spec.preserve_color, _RW
        )
        procedure.add_string_argument(
            "server", "Server", f"The daemon's address; empty means ${options.SERVER_ENV} or 127.0.0.1:50051", "", _RW
        )
        procedure.add_layer_return_value("layer", "Layer", "The new layer holding the result", False, _RW)
        return procedure

    def _create_training(self) -> Gimp.Procedure:
        procedure = Gimp.ImageProcedure.new(self, train.NAME, Gimp.PDBProcType.PLUGIN, self._run_training)
        procedure.set_image_types("RGB*, GRAY*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label(train.LABEL)
        procedure.add_menu_path("<Image>/Filters/Artistic/impasto/")
        procedure.set_documentation(train.BLURB, train.HELP, train.NAME)
        procedure.set_attribution("impasto", "impasto contributors", "2025")
        procedure.add_string_argument(
            "name", "Name", "The new style's name, e.g. my-style (letters, digits, - and _; others become -)", "", _RW
        )
        # A string, not a Gimp.Choice: the efforts are the shared client's, which is only imported at run time,
        # and a wrong value should get a message rather than silently becoming the default.
        procedure.add_string_argument(
            "effort", "Effort", "quick (minutes on a CPU) or good (a network of its own, an hour or more)", "quick", _RW
        )
        procedure.add_string_argument(
            "style-file", "Style file", "A picture file to learn the style from; empty uses the active layer", "", _RW
        )
        procedure.add_string_argument(
            "params",
            "Settings",
            'Training settings overriding the effort\'s, as a JSON object, e.g. {"steps": 500, "size": 256}',
            "{}",
            _RW,
        )
        procedure.add_boolean_argument(
            "overwrite", "Overwrite", "Replace a style of this name (or an unfinished run of it)", False, _RW
        )
        procedure.add_string_argument(
            "server", "Server", f"The daemon's address; empty means ${options.SERVER_ENV} or 127.0.0.1:50051", "", _RW
        )
        procedure.add_string_return_value("style-id", "Style id", "The new style's id, e.g. cin:my-style", "", _RW)
        procedure.add_string_return_value("method", "Method", "The method that stylizes with it, e.g. cin", "", _RW)
        return procedure

    def _run_training(
        self,
        procedure: Gimp.Procedure,
        run_mode: Gimp.RunMode,
        _image: Gimp.Image,
        drawables: list[Gimp.Drawable],
        config: Gimp.ProcedureConfig,
        *_run_data: object,
    ) -> Gimp.ValueArray:
        interactive = run_mode == Gimp.RunMode.INTERACTIVE
        try:
            trained = train.run_training(procedure, interactive, drawables, config)
        except Failure as err:
            return self._failed(procedure, interactive, err)
        if interactive:
            Gimp.message(f"impasto: {train.finished_message(trained)}")
        values = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)
        values.remove(2)
        values.remove(1)
        values.insert(1, GObject.Value(str, trained.style_id))
        values.insert(2, GObject.Value(str, trained.method))
        return values

    def _run_settings(
        self,
        procedure: Gimp.Procedure,
        run_mode: Gimp.RunMode,
        _image: Gimp.Image | None,
        _drawables: list[Gimp.Drawable],
        config: Gimp.ProcedureConfig,
        *_run_data: object,
    ) -> Gimp.ValueArray:
        interactive = run_mode == Gimp.RunMode.INTERACTIVE
        try:
            status = connection_settings.run(procedure, interactive, config)
        except Failure as err:
            return self._failed(procedure, interactive, err)
        if status is None:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
        if interactive:
            Gimp.message(f"impasto: {status}")
        values = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)
        values.remove(1)
        values.insert(1, GObject.Value(str, status))
        return values

    @staticmethod
    def _failed(procedure: Gimp.Procedure, interactive: bool, err: Failure) -> Gimp.ValueArray:
        if err.cancelled:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
        if interactive:
            # One clear message box; an error in the return values would add a second one.
            Gimp.message(f"impasto: {err}")
            return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, None)
        return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(f"impasto: {err}"))

    def _run(
        self,
        spec: ProcedureSpec,
        procedure: Gimp.Procedure,
        run_mode: Gimp.RunMode,
        image: Gimp.Image,
        drawables: list[Gimp.Drawable],
        config: Gimp.ProcedureConfig,
        *_run_data: object,
    ) -> Gimp.ValueArray:
        from impasto_glue.procedures import run_procedure

        interactive = run_mode == Gimp.RunMode.INTERACTIVE
        try:
            layer = run_procedure(spec, procedure, interactive, image, drawables, config)
        except Failure as err:
            return self._failed(procedure, interactive, err)
        values = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)
        values.remove(1)
        values.insert(1, GObject.Value(Gimp.Layer, layer))
        return values


Gimp.main(ImpastoPlugIn.__gtype__, sys.argv)
