#!/usr/bin/env python3
"""impasto for GIMP 3: neural style transfer under Filters ▸ Artistic ▸ impasto.

A thin plug-in: it reads the active layer and the selection, hands them to the
impasto daemon through the thin client, and adds the daemon's result as a new
layer. Methods, parameters and built-in styles all come from the daemon.
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
from impasto_glue import options  # noqa: E402
from impasto_glue.procedures import PROCEDURES, Failure, ProcedureSpec, photo_method_available  # noqa: E402

_RW = GObject.ParamFlags.READWRITE


class ImpastoPlugIn(Gimp.PlugIn):
    """Registers the procedures and runs them; the work itself is in impasto_glue."""

    def do_set_i18n(self, name: str) -> bool:
        return False

    def do_query_procedures(self) -> list[str]:
        # Registered once and cached by GIMP in pluginrc.
        return [name for name, spec in PROCEDURES.items() if not spec.needs_method]

    def do_init_procedures(self) -> list[str]:
        # Asked at every GIMP start, so Photo Style appears once a daemon offering it runs.
        wanted = [spec for spec in PROCEDURES.values() if spec.needs_method]
        return [spec.name for spec in wanted if photo_method_available(options.server_address(""), spec.needs_method)]

    def do_create_procedure(self, name: str) -> Gimp.Procedure:
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
            if err.cancelled:
                return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
            if interactive:
                # One clear message box; an error in the return values would add a second one.
                Gimp.message(f"impasto: {err}")
                return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, None)
            return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(f"impasto: {err}"))
        values = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)
        values.remove(1)
        values.insert(1, GObject.Value(Gimp.Layer, layer))
        return values


Gimp.main(ImpastoPlugIn.__gtype__, sys.argv)
