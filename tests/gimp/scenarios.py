"""Runs inside real GIMP 3 (gimp-console-3.0, python-fu-eval) against a real impasto daemon.

tests/test_gimp.py installs the plug-in, writes a JSON config and starts GIMP on
this file. Each scenario builds an image with known pixels, calls our procedures
through the PDB exactly as a Python-Fu or batch script would, and checks the
pixels. Results go to a JSON report, one entry per scenario; any failure also
raises at the end so GIMP's batch exit status is 64 and nothing passes silently.
"""

import json
import math
import os
import struct
import time
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

with open(os.environ["IMPASTO_TEST_CONFIG"]) as config_file:
    CONFIG = json.load(config_file)
PDB = Gimp.get_pdb()
FAST = json.dumps(CONFIG["fast_params"])
PAIRED = json.dumps({"size": 40, "steps": 150, "coarse_steps": 0})  # colours travel all the way from grey
MAIN = "python-fu-impasto-stylize"
KEEP = "python-fu-impasto-stylize-keep-colors"
SELECTION = "python-fu-impasto-stylize-selection"
PHOTO = "python-fu-impasto-photo-style"
SETTINGS = "python-fu-impasto-connection-settings"
TRAIN = "python-fu-impasto-train-style"
TRAIN_TINY = json.dumps(CONFIG["train_params"])  # trains in seconds
W, H = 40, 32
report = {}
images = []


class Check(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Check(message)


# ------------------------------------------------------------------ helpers


def new_image(precision, base=Gimp.ImageBaseType.RGB, w=W, h=H):
    image = Gimp.Image.new_with_precision(w, h, base, precision)
    images.append(image)
    return image


def add_layer(image, name, w=W, h=H, x=0, y=0, alpha=True):
    gray = image.get_base_type() == Gimp.ImageBaseType.GRAY
    kind = {
        (False, True): Gimp.ImageType.RGBA_IMAGE,
        (False, False): Gimp.ImageType.RGB_IMAGE,
        (True, True): Gimp.ImageType.GRAYA_IMAGE,
        (True, False): Gimp.ImageType.GRAY_IMAGE,
    }[(gray, alpha)]
    layer = Gimp.Layer.new(image, name, w, h, kind, 100.0, Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    layer.set_offsets(x, y)
    # A smooth photo-like pattern with a hard-edged block: known, and different everywhere.
    values = []
    for row in range(h):
        for col in range(w):
            block = 10 <= col < 22 and 8 <= row < 20
            r = 0.9 if block else 0.15 + 0.7 * col / w
            g = 0.2 if block else 0.1 + 0.8 * row / h
            b = 0.1 if block else 0.6 - 0.4 * (col * row) / (w * h)
            values += [r, g, b, 1.0]
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, w, h), "R'G'B'A float", struct.pack(f"<{len(values)}f", *values))
    buffer.flush()
    return layer


def pixels(drawable, fmt):
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    return bytes(drawable.get_buffer().get(rect, 1.0, fmt, Gegl.AbyssPolicy.NONE))


def coverage(image, layer):
    """The selection over the layer, one byte per pixel."""
    _, x, y = layer.get_offsets()
    rect = Gegl.Rectangle.new(x, y, layer.get_width(), layer.get_height())
    return bytes(image.get_selection().get_buffer().get(rect, 1.0, "Y u8", Gegl.AbyssPolicy.NONE))


def samples(data, fmt):
    code = {"u8": "B", "u16": "H", "float": "f"}[fmt.rsplit(" ", 1)[1]]
    return memoryview(data).cast(code)


def compare(before, after, cover, fmt, channels=4, min_changed=0.5, threshold=None):
    """Unselected pixels must be identical; most fully selected ones must have changed."""
    a, b = samples(before, fmt), samples(after, fmt)
    threshold = threshold if threshold is not None else {"B": 8, "H": 2048, "f": 0.03}[a.format]
    changed = selected = 0
    for i, c in enumerate(cover):
        pa, pb = a[i * channels : (i + 1) * channels], b[i * channels : (i + 1) * channels]
        if c == 0:
            check(bytes(before[i * channels * a.itemsize : (i + 1) * channels * a.itemsize])
                  == bytes(after[i * channels * a.itemsize : (i + 1) * channels * a.itemsize]),
                  f"unselected pixel {i} changed: {list(pa)} -> {list(pb)}")  # fmt: skip
        elif c == 255:
            selected += 1
            if max(abs(pa[k] - pb[k]) for k in range(channels - 1)) > threshold:
                changed += 1
    check(selected > 0, "no fully selected pixel to compare")
    check(changed >= min_changed * selected, f"only {changed} of {selected} selected pixels were stylized")
    return changed, selected


def call(proc_name, image, layer, run_mode=Gimp.RunMode.NONINTERACTIVE, **arguments):
    """Runs a procedure (non-interactively by default); returns (status, layer or error message, seconds)."""
    proc = PDB.lookup_procedure(proc_name)
    check(proc is not None, f"{proc_name} is not registered")
    config = proc.create_config()
    config.set_property("run-mode", run_mode)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    arguments.setdefault("server", CONFIG["server"])
    arguments.setdefault("params", FAST)
    for key, value in arguments.items():
        config.set_property(key.replace("_", "-"), value)
    start = time.monotonic()
    result = proc.run(config)
    seconds = time.monotonic() - start
    status = result.index(0)
    value = result.index(1) if result.length() > 1 else None
    return status, value, seconds


def succeed(proc_name, image, layer, **arguments):
    status, value, seconds = call(proc_name, image, layer, **arguments)
    check(status == Gimp.PDBStatusType.SUCCESS, f"{proc_name} failed: {status.value_nick}: {value}")
    check(isinstance(value, Gimp.Layer), f"{proc_name} returned {value!r}, not the new layer")
    return value, seconds


def fail(proc_name, image, layer, expected, **arguments):
    layers = len(image.get_layers())
    status, value, seconds = call(proc_name, image, layer, **arguments)
    check(status != Gimp.PDBStatusType.SUCCESS, f"{proc_name} succeeded but should have failed ({expected})")
    check(isinstance(value, str) and all(word in value for word in expected),
          f"{proc_name}'s error {value!r} does not say {expected}")  # fmt: skip
    check(len(image.get_layers()) == layers, f"{proc_name} left a layer behind after failing")
    return value, seconds


def above(image, new, source):
    layers = image.get_layers()
    check(layers.index(new) == layers.index(source) - 1, f"the new layer is not right above the source: {layers}")


def scenario(function):
    """Runs one scenario into the report; one that returns (detail, data) also hands data to tests/test_gimp.py."""
    try:
        detail = function()
        detail, data = detail if isinstance(detail, tuple) else (detail, {})
        report[function.__name__] = {"ok": True, "detail": detail or "", "data": data}
    except Exception as err:  # every scenario runs; the report names what failed
        tb = "" if isinstance(err, Check) else traceback.format_exc()
        report[function.__name__] = {"ok": False, "detail": f"{err}\n{tb}".strip()}


# ------------------------------------------------------------------ scenarios


def registration():
    for name in (MAIN, KEEP, SELECTION):
        proc = PDB.lookup_procedure(name)
        check(proc is not None, f"{name} is not registered")
        check(proc.get_menu_paths() == ["<Image>/Filters/Artistic/impasto/"], f"{name}: menu {proc.get_menu_paths()}")
        check(proc.get_image_types() == "RGB*, GRAY*", f"{name}: image types {proc.get_image_types()}")
        names = [a.name for a in proc.get_arguments()]
        for argument in ("method", "style", "style-layer", "params", "preserve-color", "server"):
            check(argument in names, f"{name} has no argument {argument}: {names}")
        check([v.name for v in proc.get_return_values()] == ["layer"], f"{name} does not return the layer")
    labels = [PDB.lookup_procedure(n).get_menu_label() for n in (MAIN, KEEP, SELECTION)]
    check(labels == ["Neural _Style…", "Neural Style (keep _colours)…", "Stylize Se_lection…"], f"labels {labels}")
    train = PDB.lookup_procedure(TRAIN)
    check(train is not None, f"{TRAIN} is not registered")
    check(train.get_menu_paths() == ["<Image>/Filters/Artistic/impasto/"], f"{TRAIN}: menu {train.get_menu_paths()}")
    check(train.get_menu_label() == "_Train a Style…", f"{TRAIN}: label {train.get_menu_label()}")
    names = [a.name for a in train.get_arguments()]
    for argument in ("name", "effort", "style-file", "params", "overwrite", "server"):
        check(argument in names, f"{TRAIN} has no argument {argument}: {names}")
    returned = [v.name for v in train.get_return_values()]
    check(returned == ["style-id", "method"], f"{TRAIN} returns {returned}, not the style id and method")
    # Registered whether or not a daemon ran when GIMP started (it answers for itself when run).
    check(PDB.lookup_procedure(PHOTO) is not None, "Photo Style is not registered")
    settings = PDB.lookup_procedure(SETTINGS)
    check(settings is not None, f"{SETTINGS} is not registered")
    names = [a.name for a in settings.get_arguments()]
    for argument in ("server", "token-file", "tls-ca", "tls", "autostart", "daemon-command"):
        check(argument in names, f"{SETTINGS} has no argument {argument}: {names}")
    return "all registered, Photo Style and Connection Settings too"


def u8_rectangle_from_file():
    """8-bit, a rectangular selection, a style picture from a file: the everyday case."""
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "photo")
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 6, 5, 22, 18)
    fmt = "R'G'B'A u8"
    before = pixels(source, fmt)
    layer, seconds = succeed(MAIN, image, source, style=CONFIG["style_path"])
    check(pixels(source, fmt) == before, "the source layer changed")
    check(len(image.get_layers()) == 2, f"expected 2 layers, got {len(image.get_layers())}")
    above(image, layer, source)
    check("impasto" in layer.get_name(), f"layer name {layer.get_name()!r}")
    check((layer.get_width(), layer.get_height(), layer.get_offsets()[1:]) == (W, H, (0, 0)), "layer geometry")
    changed, selected = compare(before, pixels(layer, fmt), coverage(image, source), fmt)
    return f"{changed}/{selected} selected pixels stylized in {seconds:.1f} s"


def u16_feathered_keep_colours():
    """16-bit, a feathered ellipse: unselected pixels bit-identical, soft edges blended by GIMP."""
    image = new_image(Gimp.Precision.U16_NON_LINEAR)
    source = add_layer(image, "sixteen")
    image.select_ellipse(Gimp.ChannelOps.REPLACE, 4, 3, 30, 24)
    Gimp.Selection.feather(image, 6.0)
    fmt = "R'G'B'A u16"
    before = pixels(source, fmt)
    layer, seconds = succeed(KEEP, image, source, style=CONFIG["style_path"])
    check(image.get_precision() == Gimp.Precision.U16_NON_LINEAR, "the image's precision changed")
    check(pixels(source, fmt) == before, "the source layer changed")
    above(image, layer, source)
    cover = coverage(image, source)
    check(any(0 < c < 255 for c in cover), "the feathered selection has no soft pixels")
    # Keeping colours changes mostly texture and lightness, so a lower bar for "changed".
    changed, selected = compare(before, pixels(layer, fmt), cover, fmt, min_changed=0.3, threshold=512)
    return f"{changed}/{selected} selected pixels stylized in {seconds:.1f} s"


def float_selection_layer_from_layer():
    """32-bit float linear, Stylize Selection, the style taken from a layer of another open image."""
    style_image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(CONFIG["style_path"]))
    images.append(style_image)
    style_layer = style_image.get_layers()[0]
    image = new_image(Gimp.Precision.FLOAT_LINEAR)
    source = add_layer(image, "float", w=36, h=28, x=2, y=3)
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 8, 7, 20, 14)
    fmt = "RGBA float"
    before = pixels(source, fmt)
    layer, seconds = succeed(SELECTION, image, source, style="", style_layer=style_layer)
    check(pixels(source, fmt) == before, "the source layer changed")
    above(image, layer, source)
    geometry = (layer.get_width(), layer.get_height(), tuple(layer.get_offsets()[1:]))
    check(geometry == (20, 14, (8, 7)), f"the selection layer is {geometry}, not the selection's 20x14 at (8, 7)")
    mask = layer.get_mask()
    check(mask is not None, "the selection layer has no layer mask")
    check(set(pixels(mask, "Y u8")) == {255}, "the layer mask is not the (fully selected) selection")
    # Compare with the matching rectangle of the source: (8,7) in the image is (6,4) in the source.
    rect = Gegl.Rectangle.new(6, 4, 20, 14)
    under = bytes(source.get_buffer().get(rect, 1.0, "R'G'B'A float", Gegl.AbyssPolicy.NONE))
    changed, selected = compare(under, pixels(layer, "R'G'B'A float"), b"\xff" * (20 * 14), "R'G'B'A float")
    return f"{changed}/{selected} pixels stylized in {seconds:.1f} s"


def gray_offset_layer_whole():
    """A grayscale image, a layer hanging off the canvas, no selection, undo disabled."""
    image = new_image(Gimp.Precision.U8_NON_LINEAR, base=Gimp.ImageBaseType.GRAY)
    source = add_layer(image, "gray", w=30, h=26, x=-4, y=10, alpha=False)
    image.undo_disable()
    fmt = "Y'A u8"
    before = pixels(source, fmt)
    style = CONFIG["builtin"] or CONFIG["style_path"]
    params = json.dumps(CONFIG["builtin_params"]) if CONFIG["builtin"] else FAST
    layer, seconds = succeed(MAIN, image, source, style=style, params=params)
    check(pixels(source, fmt) == before, "the source layer changed")
    check(layer.is_gray(), "the new layer is not grayscale")
    check(tuple(layer.get_offsets()[1:]) == (-4, 10), f"offsets {layer.get_offsets()}")
    changed, selected = compare(before, pixels(layer, fmt), b"\xff" * (30 * 26), fmt, channels=2)
    return f"style {style}: {changed}/{selected} pixels stylized in {seconds:.1f} s"


def noise(x, y):
    """A fixed pseudo-random value in [-1, 1] per pixel."""
    return math.sin(x * 12.9898 + y * 78.233) * 43758.5453 % 2.0 - 1.0


def fill(layer, colour_at):
    w, h = layer.get_width(), layer.get_height()
    values = [v for y in range(h) for x in range(w) for v in (*colour_at(x, y), 1.0)]
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, w, h), "R'G'B'A float", struct.pack(f"<{len(values)}f", *values))
    buffer.flush()


def mean_colour(data, w, rows):
    """The mean R'G'B' (0..255) of the given rows of u8 RGBA pixels."""
    sums = [0.0, 0.0, 0.0]
    for y in rows:
        for x in range(w):
            for c in range(3):
                sums[c] += data[(y * w + x) * 4 + c]
    count = len(rows) * w
    return [v / count for v in sums]


def nearer(colour, partner, other):
    """How much nearer `colour` is to `partner` than to `other`."""
    return math.dist(colour, other) - math.dist(colour, partner)


def paired_selections():
    """The plain case: the style image's selection pairs with the layer's, the rest with the rest.

    A grey layer, its top half selected; a style whose left half (red) is selected and right
    half blue. Neural Style stylizes the whole layer: top from red, bottom from blue.
    Stylize Selection keeps to the selection and takes it all from the style's selection.
    """
    red, blue = (0.78, 0.16, 0.12), (0.12, 0.24, 0.78)
    style_image = new_image(Gimp.Precision.U8_NON_LINEAR)
    style_layer = add_layer(style_image, "palettes")
    fill(style_layer, lambda x, y: [min(1, max(0, c + 0.12 * noise(x, y))) for c in (red if x < W // 2 else blue)])
    style_image.select_rectangle(Gimp.ChannelOps.REPLACE, 0, 0, W // 2, H)
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "grey")
    fill(source, lambda x, y: [0.5 + 0.15 * noise(x, y)] * 3)
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 0, 0, W, H // 2)
    fmt = "R'G'B'A u8"
    before = pixels(source, fmt)
    layer, seconds = succeed(MAIN, image, source, style="", style_layer=style_layer, params=PAIRED)
    check(pixels(source, fmt) == before, "the source layer changed")
    above(image, layer, source)
    after = pixels(layer, fmt)
    rest = range(H // 2, H)
    check(mean_colour(after, W, rest) != mean_colour(before, W, rest), "the unselected rest was not stylized")
    red255, blue255 = [c * 255 for c in red], [c * 255 for c in blue]
    top, bottom = mean_colour(after, W, range(H // 2)), mean_colour(after, W, rest)
    check(nearer(top, red255, blue255) > 30, f"the selected top {top} is not nearer the style's selected red")
    check(nearer(bottom, blue255, red255) > 30, f"the rest {bottom} is not nearer the style's unselected blue")
    alone, more = succeed(SELECTION, image, source, style="", style_layer=style_layer, params=PAIRED)
    geometry = (alone.get_width(), alone.get_height(), tuple(alone.get_offsets()[1:]))
    check(geometry == (W, H // 2, (0, 0)), f"the selection layer is {geometry}")
    whole = mean_colour(pixels(alone, fmt), W, range(H // 2))
    check(nearer(whole, red255, blue255) > 30, f"Stylize Selection {whole} is not nearer the style's selected red")
    return f"top {top}, rest {bottom} in {seconds:.1f} s; selection alone {whole} in {more:.1f} s"


def save_selection(image, name, x, y, w, h):
    image.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
    Gimp.Selection.save(image).set_name(name)
    Gimp.Selection.none(image)


def saved_selections_by_name():
    """Channels (saved selections) named alike in the layer's image and the style's pair by name.

    "sky" is the grey layer's top half and the style's blue top half; what neither covers
    pairs too (the red bottom). Nothing is selected, so the whole layer is stylized.
    """
    red, blue = (0.78, 0.16, 0.12), (0.12, 0.24, 0.78)
    style_image = new_image(Gimp.Precision.U8_NON_LINEAR)
    style_layer = add_layer(style_image, "palettes")
    fill(style_layer, lambda x, y: [min(1, max(0, c + 0.12 * noise(x, y))) for c in (blue if y < H // 2 else red)])
    save_selection(style_image, "sky", 0, 0, W, H // 2)
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "grey")
    fill(source, lambda x, y: [0.5 + 0.15 * noise(x, y)] * 3)
    save_selection(image, "sky", 0, 0, W, H // 2)
    save_selection(image, "unpaired", 0, 0, 4, 4)  # no partner in the style: the whole style
    fmt = "R'G'B'A u8"
    before = pixels(source, fmt)
    layer, seconds = succeed(MAIN, image, source, style="", style_layer=style_layer, params=PAIRED)
    check(pixels(source, fmt) == before, "the source layer changed")
    above(image, layer, source)
    regions = layer.get_name().partition("regions ")[2].rstrip(")").split(", ")
    check(sorted(regions) == ["sky", "unpaired"], f"the layer's name {layer.get_name()!r} does not name the regions")
    after = pixels(layer, fmt)
    red255, blue255 = [c * 255 for c in red], [c * 255 for c in blue]
    top, bottom = mean_colour(after, W, range(4, H // 2)), mean_colour(after, W, range(H // 2, H))
    check(nearer(top, blue255, red255) > 30, f"the top {top} is not nearer the style's blue sky")
    check(nearer(bottom, red255, blue255) > 30, f"the bottom {bottom} is not nearer the style's red rest")
    return f"{layer.get_name()}: top {top}, bottom {bottom} in {seconds:.1f} s"


def daemon_down():
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "photo")
    before = pixels(source, "R'G'B'A u8")
    message, seconds = fail(MAIN, image, source, ["not reachable", CONFIG["dead_server"], "impasto serve"],
                            style=CONFIG["style_path"], server=CONFIG["dead_server"])  # fmt: skip
    check(pixels(source, "R'G'B'A u8") == before, "the source layer changed")
    check(seconds < 15, f"took {seconds:.1f} s to notice the daemon is down")
    return f"{seconds:.1f} s: {message}"


def bad_arguments():
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "photo")
    messages = [
        fail(MAIN, image, source, ["JSON"], style=CONFIG["style_path"], params="{steps: 3")[0],
        fail(MAIN, image, source, ["steps"], style=CONFIG["style_path"], params='{"steps": -5}')[0],
        fail(MAIN, image, source, ["no method", "nonesuch"], style=CONFIG["style_path"], method="nonesuch")[0],
        fail(MAIN, image, source, ["neither"], style="/nowhere/style.png")[0],
        fail(MAIN, image, source, ["preserve-color"], style=CONFIG["style_path"], preserve_color="sepia")[0],
        fail(SELECTION, image, source, ["needs a selection"], style=CONFIG["style_path"])[0],
    ]
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 0, 0, 10, 10)
    source.set_offsets(20, 20)
    messages.append(fail(MAIN, image, source, ["does not touch"], style=CONFIG["style_path"])[0])
    return "\n".join(messages)


def cancel_then_next_job():
    """GIMP's progress Cancel kills the plug-in: the image stays untouched and the daemon moves on."""
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "photo")
    before = pixels(source, "R'G'B'A u8")
    with open(CONFIG["cancel_marker"], "w") as marker:
        marker.write("now")
    status, value, seconds = call(
        MAIN, image, source, style=CONFIG["style_path"], params=json.dumps(CONFIG["slow_params"])
    )
    check(status != Gimp.PDBStatusType.SUCCESS, f"the killed run ended with {status.value_nick}")
    check(len(image.get_layers()) == 1, "the killed run left a layer")
    check(pixels(source, "R'G'B'A u8") == before, "the source layer changed")
    # Were the killed job still running, this one would queue behind it for minutes.
    _layer, next_seconds = succeed(MAIN, image, source, style=CONFIG["style_path"])
    check(next_seconds < 30, f"the next job took {next_seconds:.1f} s: the cancelled job kept the daemon busy")
    return f"killed after {seconds:.1f} s ({status.value_nick}: {value}); next job {next_seconds:.1f} s"


def dialog_ok_then_cancel():
    """The interactive dialog on a virtual display: OK runs the job, Escape cancels and changes nothing.

    The test clicks OK and presses Escape from outside (xdotool) when this asks.
    """
    check(CONFIG["display"], "no virtual display: Xvfb is missing from the chroot (rerun setup-chroot.sh)")
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "photo")
    before = pixels(source, "R'G'B'A u8")
    interactive = Gimp.RunMode.INTERACTIVE
    with open(CONFIG["ui_marker"] + "ok", "w"):
        pass
    layer, seconds = succeed(MAIN, image, source, run_mode=interactive, style=CONFIG["style_path"])
    above(image, layer, source)
    # What OK stored as GIMP's last values: the given params, shown in the dialog and read back.
    last = os.path.join(os.environ["HOME"], ".config/GIMP/3.0/plug-in-settings",
                        f"GimpProcedureConfigRun-{MAIN}.last")  # fmt: skip
    with open(last) as last_values:
        saved = last_values.read()
    check('(method "' in saved, f"no method in the last values: {saved}")
    check('\\"size\\": 40' in saved, f"the dialog lost the given params: {saved}")
    with open(CONFIG["ui_marker"] + "cancel", "w"):
        pass
    status, _value, _seconds = call(MAIN, image, source, run_mode=interactive, style=CONFIG["style_path"])
    check(status == Gimp.PDBStatusType.CANCEL, f"Escape in the dialog gave {status.value_nick}, not cancel")
    check(len(image.get_layers()) == 2, "the cancelled dialog added a layer")
    check(pixels(source, "R'G'B'A u8") == before, "the source layer changed")
    return f"OK: a layer in {seconds:.1f} s; Escape: cancelled"


def photo_style():
    """Photo Style, registered at GIMP's start because the daemon lists a "photo" method."""
    check(CONFIG["photo"], "the daemon lists no photo method")
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "photo")
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 4, 4, 30, 20)
    fmt = "R'G'B'A u8"
    before = pixels(source, fmt)
    layer, seconds = succeed(PHOTO, image, source, style=CONFIG["style_path"], params="{}")
    check("photo" in layer.get_name(), f"layer name {layer.get_name()!r}")
    check(pixels(source, fmt) == before, "the source layer changed")
    above(image, layer, source)
    changed, selected = compare(before, pixels(layer, fmt), coverage(image, source), fmt)
    fail(PHOTO, image, source, ["built-in"], style=CONFIG["builtin"] or "cin26:0", params="{}")
    return f"{changed}/{selected} selected pixels restyled in {seconds:.1f} s"


def save_settings(image, layer, **arguments):
    """Runs Connection Settings non-interactively; returns what its connection test found."""
    arguments = {"server": "", "token_file": "", "tls_ca": "", "tls": False, "autostart": True,
                 "daemon_command": "", **arguments}  # fmt: skip
    proc = PDB.lookup_procedure(SETTINGS)
    config = proc.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    for key, value in arguments.items():
        config.set_property(key.replace("_", "-"), value)
    result = proc.run(config)
    check(result.index(0) == Gimp.PDBStatusType.SUCCESS, f"{SETTINGS} failed: {result.index(1)}")
    return result.index(1)


def remote_settings():
    """A daemon with TLS and a token, reached through Connection Settings (the settings file the CLI reads too)."""
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "photo")
    before = pixels(source, "R'G'B'A u8")
    remote = CONFIG["tls_server"]
    try:
        status = save_settings(image, source, server=remote, token_file=CONFIG["token"], tls_ca=CONFIG["ca"])
        check("connected to" in status and "TLS" in status, f"the connection test said {status!r}")
        with open(os.path.join(os.environ["HOME"], ".config", "impasto", "config.toml")) as fh:
            saved = fh.read()
        check(CONFIG["ca"] in saved and "autostart" not in saved, f"the settings file holds {saved!r}")
        _layer, seconds = succeed(MAIN, image, source, style=CONFIG["style_path"], server=remote)
        status = save_settings(image, source, server=remote, token_file=CONFIG["wrong_token"], tls_ca=CONFIG["ca"])
        check("does not accept that token" in status, f"a wrong token: the connection test said {status!r}")
        wrong = fail(MAIN, image, source, ["does not accept that token", "Connection Settings"],
                     style=CONFIG["style_path"], server=remote)[0]  # fmt: skip
        save_settings(image, source, server=remote, token_file=CONFIG["token"])
        plain = fail(MAIN, image, source, ["TLS"], style=CONFIG["style_path"], server=remote)[0]
    finally:
        save_settings(image, source)
    check(pixels(source, "R'G'B'A u8") == before, "the source layer changed")
    return f"a layer in {seconds:.1f} s over TLS; wrong token: {wrong!r}; plain: {plain!r}"


def autostart():
    """Nothing answers at the address and the settings name a daemon command: the plug-in starts it, waits until it
    answers, and the layer arrives. (The chroot has no torch: its command is a launcher for the real daemon.)"""
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "photo")
    path = os.path.join(os.environ["HOME"], ".config", "impasto", "config.toml")
    previous = None
    if os.path.exists(path):
        with open(path) as fh:
            previous = fh.read()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(f"server_command = {json.dumps([CONFIG['daemon_launcher']])}\n")
    try:
        _layer, seconds = succeed(MAIN, image, source, style=CONFIG["style_path"], server=CONFIG["autostart_server"])
    finally:
        if previous is None:
            os.remove(path)
        else:
            with open(path, "w") as fh:
                fh.write(previous)
    with open(CONFIG["daemon_request"]) as fh:
        request = fh.read().split()
    port = CONFIG["autostart_server"].rsplit(":", 1)[1]
    check(request[:1] == ["serve"] and request[request.index("--port") + 1] == port, f"it ran {request}")
    log = os.path.join(Gimp.directory(), "impasto", "daemon.log")
    check(os.path.exists(log), f"no daemon log at {log}")
    return f"started with {' '.join(request)}; a layer in {seconds:.1f} s"


def layers_state(image):
    """Everything of the image's layers training must leave alone: names, geometry and pixels."""
    return [
        (layer.get_name(), layer.get_width(), layer.get_height(), tuple(layer.get_offsets()[1:]),
         pixels(layer, "R'G'B'A float"))
        for layer in image.get_layers()
    ]  # fmt: skip


def unchanged(image, before, what):
    after = layers_state(image)
    check(len(after) == len(before), f"{what}: the image has {len(after)} layers, not {len(before)}")
    shapes = [entry[:4] for entry in after]
    check(shapes == [entry[:4] for entry in before], f"{what} changed the layers: {shapes}")
    check(all(a[4] == b[4] for a, b in zip(after, before, strict=True)), f"{what} changed a layer's pixels")


def train(image, layer, **arguments):
    """Runs Train a Style; returns (style id, method, seconds), checking what it returned."""
    arguments.setdefault("params", TRAIN_TINY)
    proc = PDB.lookup_procedure(TRAIN)
    check(proc is not None, f"{TRAIN} is not registered")
    run_mode = arguments.pop("run_mode", Gimp.RunMode.NONINTERACTIVE)
    config = proc.create_config()
    config.set_property("run-mode", run_mode)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    config.set_property("server", CONFIG["server"])
    for key, value in arguments.items():
        config.set_property(key.replace("_", "-"), value)
    start = time.monotonic()
    result = proc.run(config)
    seconds = time.monotonic() - start
    status = result.index(0)
    check(status == Gimp.PDBStatusType.SUCCESS, f"{TRAIN} failed: {status.value_nick}: {result.index(1)}")
    check(result.length() == 3, f"{TRAIN} returned {result.length() - 1} values, not the style id and method")
    return result.index(1), result.index(2), seconds


def train_style_from_layer():
    """Quick effort from a layer: the returned id is a cin style that Neural Style then paints with."""
    style_image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(CONFIG["style_path"]))
    images.append(style_image)
    style_layer = style_image.get_layers()[0]
    before = layers_state(style_image)
    style_image.clean_all()  # so that any change training made, however small, would show as dirty
    style_id, method, seconds = train(style_image, style_layer, name="GIMP stripes", effort="quick")
    # The shared client's rule turns the painter's title into the model name.
    check(style_id == "cin:GIMP-stripes", f"the quick style's id is {style_id!r}, not 'cin:GIMP-stripes'")
    check(method == "cin", f"the quick style's method is {method!r}, not 'cin'")
    unchanged(style_image, before, "training")
    check(not style_image.is_dirty(), "training marked the image as changed")

    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "photo")
    fmt = "R'G'B'A u8"
    plain = pixels(source, fmt)
    layer, more = succeed(MAIN, image, source, method="cin", style=style_id, params="{}")
    check(pixels(source, fmt) == plain, "the source layer changed")
    check(len(image.get_layers()) == 2, f"expected 2 layers, got {len(image.get_layers())}")
    above(image, layer, source)
    changed, selected = compare(plain, pixels(layer, fmt), b"\xff" * (W * H), fmt)
    detail = f"{style_id} trained in {seconds:.1f} s; Neural Style with it: {changed}/{selected} pixels in {more:.1f} s"
    return detail, {"style_id": style_id, "method": method, "name": "GIMP-stripes"}


def train_style_from_file_good():
    """Good effort from a picture file: a network of its own (a fast style); the active layer is not used."""
    image = new_image(Gimp.Precision.U16_NON_LINEAR)
    source = add_layer(image, "ignored")
    before = layers_state(image)
    style_id, method, seconds = train(image, source, name="gimp-file", effort="good", style_file=CONFIG["style_path"])
    check(style_id == "fast:gimp-file", f"the good style's id is {style_id!r}, not 'fast:gimp-file'")
    check(method == "fast", f"the good style's method is {method!r}, not 'fast'")
    unchanged(image, before, "training from a file")
    return f"{style_id} trained in {seconds:.1f} s", {"style_id": style_id, "method": method, "name": "gimp-file"}


def train_bad_names():
    """Names, efforts and settings that cannot be trained are refused with a message, the image untouched."""
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "photo")
    before = layers_state(image)
    messages = [fail(TRAIN, image, source, ["name", "give the style a name"], name=name, params=TRAIN_TINY)[0]
                for name in ("", "   ", "../", "%/%")]  # fmt: skip
    messages += [
        fail(TRAIN, image, source, ["effort", "quick", "good", "best"], name="fine", effort="best")[0],
        fail(TRAIN, image, source, ["JSON"], name="fine", params="{steps: 3")[0],
        fail(TRAIN, image, source, ["cannot open", "/nowhere/style.png"], name="fine", params=TRAIN_TINY,
             style_file="/nowhere/style.png")[0],
        # Refused by the daemon, after the upload: its message comes through as it is.
        fail(TRAIN, image, source, ["size", "2048"], name="fine", params='{"size": 5000}')[0],
    ]  # fmt: skip
    for message in messages:
        check("Traceback" not in message and message.startswith("impasto: "), f"not a clear message: {message!r}")
    unchanged(image, before, "a refused training")
    return "\n".join(messages)


def train_cancel_then_overwrite():
    """GIMP's progress Cancel (the plug-in killed) stops the training and keeps its checkpoint: the same name is
    then refused until overwrite is set, and the daemon is free for the next run."""
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "photo")
    before = layers_state(image)
    with open(CONFIG["train_cancel_marker"], "w") as marker:
        marker.write("now")
    status, value, seconds = call(TRAIN, image, source, name="gimp-cancelled",
                                  params=json.dumps(CONFIG["train_slow_params"]))  # fmt: skip
    check(status != Gimp.PDBStatusType.SUCCESS, f"the killed training ended with {status.value_nick}")
    unchanged(image, before, "the killed training")
    refused = fail(TRAIN, image, source, ["unfinished", "overwrite"], name="gimp-cancelled", params=TRAIN_TINY)[0]
    style_id, _method, more = train(image, source, name="gimp-cancelled", overwrite=True)
    check(style_id == "cin:gimp-cancelled", f"the retrained style's id is {style_id!r}")
    # Were the killed run still training, this one would wait behind its 100000 steps.
    check(more < 90, f"the next training took {more:.1f} s: the cancelled one kept the daemon busy")
    unchanged(image, before, "training")
    detail = f"killed after {seconds:.1f} s ({status.value_nick}: {value}); then {refused}; overwritten in {more:.1f} s"
    return detail, {"style_id": style_id, "method": "cin", "name": "gimp-cancelled"}


def train_dialog_ok():
    """The Train a Style dialog on the virtual display: the test clicks Train, the style is trained."""
    check(CONFIG["display"], "no virtual display: Xvfb is missing from the chroot (rerun setup-chroot.sh)")
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "dialog photo")
    before = layers_state(image)
    with open(CONFIG["ui_marker"] + "train-ok", "w"):
        pass
    style_id, method, seconds = train(image, source, run_mode=Gimp.RunMode.INTERACTIVE, name="gimp dialog")
    check(style_id == "cin:gimp-dialog", f"the dialog's style id is {style_id!r}, not 'cin:gimp-dialog'")
    unchanged(image, before, "training from the dialog")
    last = os.path.join(os.environ["HOME"], ".config/GIMP/3.0/plug-in-settings",
                        f"GimpProcedureConfigRun-{TRAIN}.last")  # fmt: skip
    with open(last) as last_values:
        saved = last_values.read()
    check('(name "gimp dialog")' in saved and '(effort "quick")' in saved, f"the dialog's last values: {saved}")
    check('\\"steps\\": 3' in saved, f"the dialog lost the given settings: {saved}")
    return f"{style_id} in {seconds:.1f} s", {"style_id": style_id, "method": method, "name": "gimp-dialog"}


def runtime_missing():
    """Run only with the plug-in built for another Python: every procedure says what to run, nothing changes."""
    image = new_image(Gimp.Precision.U8_NON_LINEAR)
    source = add_layer(image, "photo")
    before = pixels(source, "R'G'B'A u8")
    expected = ["gRPC runtime does not load", f"impasto install-plugin gimp --python-version {CONFIG['gimp_python']}"]
    stylize, _ = fail(MAIN, image, source, expected, style=CONFIG["style_path"])
    train_message, _ = fail(TRAIN, image, source, expected, name="never", params=TRAIN_TINY)
    check(pixels(source, "R'G'B'A u8") == before, "the source layer changed")
    return stylize, {"stylize": stylize, "train": train_message}


ON_REQUEST = {"runtime_missing": runtime_missing}
ONLY = set(CONFIG.get("only") or ())
for function in [ON_REQUEST[name] for name in sorted(ONLY & ON_REQUEST.keys())]:
    scenario(function)
for function in (
    registration,
    u8_rectangle_from_file,
    u16_feathered_keep_colours,
    float_selection_layer_from_layer,
    gray_offset_layer_whole,
    paired_selections,
    saved_selections_by_name,
    daemon_down,
    bad_arguments,
    cancel_then_next_job,
    dialog_ok_then_cancel,
    photo_style,
    remote_settings,
    autostart,
    train_style_from_layer,
    train_style_from_file_good,
    train_bad_names,
    train_cancel_then_overwrite,
    train_dialog_ok,
):
    if not ONLY or function.__name__ in ONLY:
        scenario(function)

with open(CONFIG["report"], "w") as out:
    json.dump(report, out, indent=2)
for image in images:
    image.delete()
failed = [name for name, entry in report.items() if not entry["ok"]]
if failed:
    raise RuntimeError(f"impasto GIMP scenarios failed: {', '.join(failed)}")
