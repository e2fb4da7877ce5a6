"""Runs inside a real Krita (as a Python plugin) and drives the impasto plugin through its scenarios.

tests/test_krita.py installs this next to the real plugin, enables both in a
throw-away kritarc and starts Krita under Xvfb. Once the main window exists,
every scenario runs in turn; each one records what it saw in report.json and
dumps raw pixel data to files, which the pytest side checks with numpy. Krita
exits with os._exit after the report is written: its exit status means nothing,
the report's "done" flag does.

Scenarios are generators that `yield` a delay in milliseconds to hand control
back to Krita's own event loop: Krita applies the active layer and updates its
Layers docker only from there, never from inside a nested QEventLoop.

Environment: IMPASTO_TEST_OUT (folder for the report), IMPASTO_TEST_SERVER (a
running daemon), IMPASTO_TEST_DEAD (an address where nothing listens),
IMPASTO_TEST_STYLE (a style picture), IMPASTO_TEST_ONLY (comma-separated
scenario names, for debugging).
"""

from __future__ import annotations

import json
import math
import os
import struct
import time
import traceback
from collections.abc import Callable, Generator
from typing import Any

from krita import Extension, Krita, Selection
from PyQt5.QtCore import QByteArray, QTimer

OUT = os.environ.get("IMPASTO_TEST_OUT", "/tmp/impasto-krita-test")
SERVER = os.environ.get("IMPASTO_TEST_SERVER", "127.0.0.1:50051")
DEAD = os.environ.get("IMPASTO_TEST_DEAD", "127.0.0.1:9")
STYLE = os.environ.get("IMPASTO_TEST_STYLE", "")
# A daemon with TLS and a token, as a remote GPU box runs it, and the files its clients need.
REMOTE = {key: os.environ.get(f"IMPASTO_TEST_{key.upper()}", "") for key in ("tls_server", "ca", "token", "wrong")}
ONLY = [s for s in os.environ.get("IMPASTO_TEST_ONLY", "").split(",") if s]
FAST = {"size": 64, "steps": 15, "coarse_steps": 0}
# A training of seconds: tiny crops, one photo a step, three steps.
TRAIN_TINY = {"size": 32, "batch": 1, "steps": 3, "precision": "float32"}
PAIRED = {"size": 52, "steps": 150, "coarse_steps": 0}  # enough for colours to travel all the way from grey
W, H = 64, 48
LAYER_RECT = (4, 4, 52, 38)  # the source layer's painted area, so its bounds differ from the image's
SELECTION = (16, 12, 24, 18)
SAMPLE = {"U8": 1, "U16": 2, "F16": 2, "F32": 4}

report: dict[str, Any] = {"done": False, "scenarios": {}}


def save_report() -> None:
    with open(os.path.join(OUT, "report.json.tmp"), "w") as fh:
        json.dump(report, fh, indent=1, default=str)
    os.replace(os.path.join(OUT, "report.json.tmp"), os.path.join(OUT, "report.json"))


Steps = Generator[int, None, Any]


def wait_for(check: Callable[[], bool], seconds: float) -> Steps:
    """Yields to Krita until `check()` holds; returns whether it did within `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        yield 50
    return True


# ---------------------------------------------------------------- documents with known pixels


def encode(rgba: list[float], depth: str) -> bytes:
    """One pixel in Krita's byte order for the depth (B,G,R,A for integers)."""
    r, g, b, a = rgba
    if depth == "U8":
        return bytes(round(v * 255) for v in (b, g, r, a))
    if depth == "U16":
        return struct.pack("<4H", *(round(v * 65535) for v in (b, g, r, a)))
    if depth == "F16":
        return struct.pack("<4e", r, g, b, a)
    return struct.pack("<4f", r, g, b, a)


def pattern(depth: str, w: int, h: int) -> bytes:
    """Gradients, a disc and a bar: content with edges for the style to work on."""
    rows = []
    for y in range(h):
        row = []
        for x in range(w):
            r, g, b = 0.2 + 0.6 * x / w, 0.15 + 0.7 * y / h, 0.5 + 0.3 * math.sin(x / 5)
            if (x - w * 0.5) ** 2 + (y - h * 0.45) ** 2 < (h * 0.22) ** 2:
                r, g, b = 0.9, 0.75, 0.2
            if h * 0.7 < y < h * 0.8:
                r, g, b = 0.1, 0.25, 0.8
            row.append(encode([r, g, b, 1.0], depth))
        rows.append(b"".join(row))
    return b"".join(rows)


def make_document(depth: str, model: str = "RGBA") -> Steps:
    """A document in its own view whose active layer, "source", has known pixels inside LAYER_RECT."""
    krita = Krita.instance()
    doc = krita.createDocument(W, H, f"impasto-{model}-{depth}", model, depth, "", 72.0)
    krita.activeWindow().addView(doc)
    source = doc.createNode("source", "paintlayer")
    doc.rootNode().addChildNode(source, None)
    if model == "RGBA":
        x, y, w, h = LAYER_RECT
        source.setPixelData(QByteArray(pattern(depth, w, h)), x, y, w, h)
    doc.refreshProjection()
    doc.waitForDone()
    yield 100

    def active() -> bool:
        node = doc.activeNode()
        if node is not None and node.uniqueId() == source.uniqueId():
            return True
        doc.setActiveNode(source)
        return False

    if not (yield from wait_for(active, 10.0)):
        raise RuntimeError("Krita did not make the new layer active")
    if krita.activeDocument() != doc:
        raise RuntimeError("the new document is not the active one")
    return doc, source


def select(doc: Any, rect: tuple[int, int, int, int]) -> None:
    selection = Selection()
    selection.select(*rect, 255)
    doc.setSelection(selection)
    doc.waitForDone()


def layer_names(doc: Any) -> list[str]:
    return [n.name() for n in doc.rootNode().childNodes() if n.type() != "selectionmask"]


def rect_of(node: Any) -> list[int]:
    r = node.bounds()
    return [r.x(), r.y(), r.width(), r.height()]


def dump(record: dict[str, Any], key: str, data: bytes) -> None:
    """Writes raw pixel data for the pytest side and notes the file in the record."""
    path = os.path.join(OUT, f"{record['name']}.{key}.raw")
    with open(path, "wb") as fh:
        fh.write(bytes(data))
    record.setdefault("files", {})[key] = path


def snapshot(record: dict[str, Any], prefix: str, doc: Any, source: Any) -> None:
    x, y, w, h = LAYER_RECT
    dump(record, f"{prefix}_source", source.pixelData(x, y, w, h))
    record[f"{prefix}_layers"] = layer_names(doc)


def new_layer_facts(record: dict[str, Any], doc: Any, source: Any, node: Any) -> None:
    names = layer_names(doc)
    record["new_name"] = node.name()
    record["new_type"] = node.type()
    record["new_rect"] = rect_of(node)
    record["source_rect"] = rect_of(source)
    record["new_above_source"] = names.index(node.name()) == names.index(source.name()) + 1
    record["new_color_depth"] = node.colorDepth()


def layers_docker_rows() -> list[str]:
    """The layer names Krita's Layers docker shows, top first: what the painter sees."""
    from PyQt5.QtWidgets import QAbstractItemView

    box = next((d for d in Krita.instance().dockers() if d.objectName() == "KisLayerBox"), None)
    for view in box.findChildren(QAbstractItemView) if box is not None else []:
        model = view.model()
        # Skip the blending-mode combo's long list; the layer tree is the short one.
        if model is not None and model.rowCount() < 50:
            return [model.index(i, 0).data() for i in range(model.rowCount())]
    return []


def stylize(**kwargs: Any) -> Any:
    """The scripting entry point, on the active document, layer and selection."""
    from impasto_krita import stylize_active

    kwargs.setdefault("server", SERVER)
    kwargs.setdefault("method", "gatys")
    kwargs.setdefault("style", STYLE)
    kwargs.setdefault("params", FAST)
    return stylize_active(**kwargs)


# ---------------------------------------------------------------- scenarios


def scenario_selection_transparent(record: dict[str, Any]) -> Steps:
    """A layer with a selection, transparent outside; then one undo, and redo."""
    doc, source = yield from make_document("U8")
    select(doc, SELECTION)
    snapshot(record, "before", doc, source)
    x, y, w, h = LAYER_RECT
    dump(record, "mask", doc.selection().pixelData(x, y, w, h))
    node = stylize(outside="transparent")
    new_layer_facts(record, doc, source, node)
    dump(record, "result", node.pixelData(x, y, w, h))
    snapshot(record, "after", doc, source)
    yield 300
    record["layers_docker"] = layers_docker_rows()
    Krita.instance().action("edit_undo").trigger()
    doc.waitForDone()
    yield 100
    snapshot(record, "undone", doc, source)
    Krita.instance().action("edit_redo").trigger()
    doc.waitForDone()
    yield 100
    redone = [n for n in doc.rootNode().childNodes() if n.name() == record["new_name"]]
    record["redo_layers"] = layer_names(doc)
    if redone:
        dump(record, "redone", redone[0].pixelData(x, y, w, h))


def scenario_active_layer(record: dict[str, Any]) -> Steps:
    """No document or node given: the active document's active layer and its selection."""
    from impasto_krita import stylize_active

    krita = Krita.instance()
    doc = krita.createDocument(W, H, "impasto-active", "RGBA", "U8", "", 72.0)
    krita.activeWindow().addView(doc)
    yield 200
    record["active_document_is_new"] = krita.activeDocument() == doc
    background = doc.activeNode()
    record["active_node"] = background.name()
    background.setPixelData(QByteArray(pattern("U8", W, H)), 0, 0, W, H)
    doc.refreshProjection()
    doc.waitForDone()
    select(doc, SELECTION)
    before = bytes(background.pixelData(0, 0, W, H))
    node = stylize_active(method="gatys", style=STYLE, params=FAST, server=SERVER, outside="keep")
    record["layers"] = layer_names(doc)
    record["new_name"] = node.name()
    record["new_rect"] = rect_of(node)
    record["source_untouched"] = bytes(background.pixelData(0, 0, W, H)) == before
    result = bytes(node.pixelData(0, 0, W, H))
    mask = bytes(doc.selection().pixelData(0, 0, W, H))
    same = [result[i * 4 : i * 4 + 4] == before[i * 4 : i * 4 + 4] for i in range(W * H)]
    record["outside_identical"] = all(s for s, m in zip(same, mask, strict=True) if not m)
    record["inside_changed"] = sum(1 for s, m in zip(same, mask, strict=True) if m and not s)
    record["inside"] = sum(1 for m in mask if m)


def _keep(record: dict[str, Any], depth: str, **kwargs: Any) -> Steps:
    doc, source = yield from make_document(depth)
    select(doc, SELECTION)
    snapshot(record, "before", doc, source)
    x, y, w, h = LAYER_RECT
    dump(record, "mask", doc.selection().pixelData(x, y, w, h))
    node = stylize(outside="keep", **kwargs)
    new_layer_facts(record, doc, source, node)
    dump(record, "result", node.pixelData(x, y, w, h))
    snapshot(record, "after", doc, source)


def scenario_u8_keep_colors(record: dict[str, Any]) -> Steps:
    """The colour-preserving filter entry: selection, identical outside, luminance transfer."""
    yield from _keep(record, "U8", preserve_color="luminance")


def scenario_u16_keep(record: dict[str, Any]) -> Steps:
    yield from _keep(record, "U16")


def scenario_f16_keep(record: dict[str, Any]) -> Steps:
    yield from _keep(record, "F16", preserve_color="histogram")


def scenario_f32_layer(record: dict[str, Any]) -> Steps:
    """A float document, whole layer, no selection."""
    doc, source = yield from make_document("F32")
    snapshot(record, "before", doc, source)
    node = stylize()
    new_layer_facts(record, doc, source, node)
    x, y, w, h = LAYER_RECT
    dump(record, "result", node.pixelData(x, y, w, h))
    snapshot(record, "after", doc, source)


def scenario_projection(record: dict[str, Any]) -> Steps:
    """The visible image instead of the layer: the result covers the whole canvas, on top."""
    doc, source = yield from make_document("U8")
    select(doc, SELECTION)
    node = stylize(source="projection", selection="ignore", style=f"layer:{source.name()}")
    record["new_rect"] = rect_of(node)
    record["layers"] = layer_names(doc)
    record["new_name"] = node.name()


def scenario_style_layer(record: dict[str, Any]) -> Steps:
    """Another open document's layer as the style, blended with the style picture."""
    style_doc, style_source = yield from make_document("U16")
    doc, _source = yield from make_document("U8")
    node = stylize(style=[(style_source, 0.5), (STYLE, 1.0)])
    record["new_name"] = node.name()
    record["layers"] = layer_names(doc)
    record["style_doc_layers"] = layer_names(style_doc)


def _failure(record: dict[str, Any], doc: Any, source: Any, **kwargs: Any) -> None:
    from impasto_krita import StylizeError

    snapshot(record, "before", doc, source)
    started = time.monotonic()
    try:
        stylize(**kwargs)
    except StylizeError as err:
        record["error_code"], record["error_message"] = err.code, err.message
    else:
        record["error_code"] = None
    record["seconds"] = time.monotonic() - started
    snapshot(record, "after", doc, source)


def scenario_dead_server(record: dict[str, Any]) -> Steps:
    doc, source = yield from make_document("U8")
    select(doc, SELECTION)
    _failure(record, doc, source, server=DEAD)


def scenario_unsupported(record: dict[str, Any]) -> Steps:
    doc, source = yield from make_document("U8", model="GRAYA")
    _failure(record, doc, source)


def scenario_no_selection(record: dict[str, Any]) -> Steps:
    doc, source = yield from make_document("U8")
    _failure(record, doc, source, selection="require")


def noise(x: int, y: int) -> float:
    """A fixed pseudo-random value in [-1, 1] per pixel (no numpy inside Krita)."""
    return math.sin(x * 12.9898 + y * 78.233) * 43758.5453 % 2.0 - 1.0


def grey_texture(w: int, h: int) -> bytes:
    """The same grey texture everywhere: any colour difference between parts comes from the regions."""
    return b"".join(encode([0.5 + 0.15 * noise(x, y)] * 3 + [1.0], "U8") for y in range(h) for x in range(w))


def two_palettes(w: int, h: int, red_at: Callable[[int, int], bool] | None = None) -> bytes:
    """Red on the left (or where `red_at(x, y)`), blue elsewhere, with texture (PAIR_RED / PAIR_BLUE in the test)."""
    red, blue = (0.78, 0.16, 0.12), (0.12, 0.24, 0.78)
    red_at = red_at or (lambda x, _y: x < w // 2)
    return b"".join(
        encode([min(1.0, max(0.0, c + 0.12 * noise(x, y))) for c in (red if red_at(x, y) else blue)] + [1.0], "U8")
        for y in range(h)
        for x in range(w)
    )


def _paired(record: dict[str, Any], doc: Any, source: Any, style: Any) -> None:
    """Stylizes the top half of a grey layer with `style`, whose left (red) half is selected."""
    x, y, w, h = LAYER_RECT
    source.setPixelData(QByteArray(grey_texture(w, h)), x, y, w, h)
    doc.refreshProjection()
    doc.waitForDone()
    select(doc, (x, y, w, h // 2))
    snapshot(record, "before", doc, source)
    dump(record, "mask", doc.selection().pixelData(x, y, w, h))
    node = stylize(style=style, params=PAIRED)
    new_layer_facts(record, doc, source, node)
    dump(record, "result", node.pixelData(x, y, w, h))
    snapshot(record, "after", doc, source)


def scenario_paired_documents(record: dict[str, Any]) -> Steps:
    """The plain case: a selection in the style's own document pairs with the layer's selection."""
    style_doc, style_layer = yield from make_document("U8")
    x, y, w, h = LAYER_RECT
    style_layer.setPixelData(QByteArray(two_palettes(w, h)), x, y, w, h)
    style_doc.refreshProjection()
    style_doc.waitForDone()
    select(style_doc, (x, y, w // 2, h))
    doc, source = yield from make_document("U8")
    _paired(record, doc, source, style_layer)


def scenario_paired_local_selection(record: dict[str, Any]) -> Steps:
    """A style layer of the same document says which part of it to use with a local selection."""
    doc, source = yield from make_document("U8")
    x, y, w, h = LAYER_RECT
    style_layer = doc.createNode("palettes", "paintlayer")
    style_layer.setPixelData(QByteArray(two_palettes(w, h)), x, y, w, h)
    doc.rootNode().addChildNode(style_layer, None)
    add_local_selection(doc, style_layer, "left half", (x, y, w // 2, h))
    doc.waitForDone()
    yield 100
    if not (yield from wait_for(lambda: doc.activeNode().uniqueId() == source.uniqueId(), 5.0)):
        doc.setActiveNode(source)
        yield 200
    _paired(record, doc, source, "layer:palettes")
    from impasto_krita import api

    # The document's own selection says what to stylize: it never selects part of a style layer in it.
    record["own_document_selection_ignored"] = api.style_selection(source, doc) is None


def add_local_selection(doc: Any, layer: Any, name: str, rect: tuple[int, int, int, int]) -> None:
    mask = doc.createSelectionMask(name)
    area = Selection()
    area.select(*rect, 255)
    mask.setSelection(area)
    layer.addChildNode(mask, None)


def scenario_saved_selections(record: dict[str, Any]) -> Steps:
    """Local selections named alike on the layer and the style layer pair by name.

    The layer has "sky" (top half) then "ground" (bottom); the style has "ground" (its red
    bottom half) then "sky" (its blue top half), in the other order, so pairing the layers'
    first local selections, as the plain case would, gives another picture than pairing by
    name: the top must turn blue and the bottom red.
    """
    doc, source = yield from make_document("U8")
    x, y, w, h = LAYER_RECT
    source.setPixelData(QByteArray(grey_texture(w, h)), x, y, w, h)
    style_layer = doc.createNode("palettes", "paintlayer")
    style_layer.setPixelData(QByteArray(two_palettes(w, h, lambda _x, row: row >= h // 2)), x, y, w, h)
    doc.rootNode().addChildNode(style_layer, None)
    add_local_selection(doc, source, "sky", (x, y, w, h // 2))
    add_local_selection(doc, source, "ground", (x, y + h // 2, w, h - h // 2))
    add_local_selection(doc, style_layer, "ground", (x, y + h // 2, w, h - h // 2))
    add_local_selection(doc, style_layer, "sky", (x, y, w, h // 2))
    doc.refreshProjection()
    doc.waitForDone()
    yield 100
    if not (yield from wait_for(lambda: doc.activeNode().uniqueId() == source.uniqueId(), 5.0)):
        doc.setActiveNode(source)
        yield 200
    record["global_selection"] = doc.selection() is not None
    snapshot(record, "before", doc, source)
    node = stylize(style="layer:palettes", params=PAIRED)
    new_layer_facts(record, doc, source, node)
    dump(record, "result", node.pixelData(x, y, w, h))
    snapshot(record, "after", doc, source)


def scenario_channel_order(record: dict[str, Any]) -> Steps:
    """Pure red written through the plugin's conversion shows as red in Krita's own rendering."""
    from impasto_krita import pixels

    from impasto_client import Image, Layout, SampleType

    colors = {}
    for depth in ("U8", "U16", "F16", "F32"):
        doc, source = yield from make_document(depth)
        fmt = pixels.PixelFormat("RGBA", depth, source.colorProfile())
        sample_type = fmt.sample_type
        red = {
            SampleType.UINT8: bytes([255, 0, 0, 255]),
            SampleType.UINT16: struct.pack("<4H", 65535, 0, 0, 65535),
            SampleType.FLOAT32: struct.pack("<4f", 1.0, 0.0, 0.0, 1.0),
        }[sample_type]
        image = Image(4, 4, Layout.RGBA, sample_type, red * 16)
        source.setPixelData(QByteArray(pixels.from_wire(image, fmt)), 0, 0, 4, 4)
        doc.refreshProjection()
        doc.waitForDone()
        color = doc.projection(0, 0, 4, 4).pixelColor(1, 1)
        back = pixels.to_wire(bytes(source.pixelData(0, 0, 4, 4)), 4, 4, fmt)
        colors[depth] = {
            "rendered": [color.red(), color.green(), color.blue()],
            "round_trip": back.data == image.data,
        }
    record["colors"] = colors


def scenario_ui(record: dict[str, Any]) -> Steps:
    """The docker and the menu actions exist; the docker's controls come from the daemon's schema."""
    from impasto_krita import state

    krita = Krita.instance()
    record["actions"] = {
        name: krita.action(name) is not None
        for name in (
            "impasto_stylize_layer",
            "impasto_stylize_selection",
            "impasto_stylize_keep_colors",
            "impasto_photo_style",
            "impasto_settings",
            "impasto_show_log",
            "impasto_train_style",
        )
    }
    docker = next((d for d in krita.dockers() if d.objectName() == "impasto_docker"), None)
    record["docker"] = docker is not None
    if docker is None:
        return
    docker.show()
    record["train_button"] = getattr(docker, "train_button", None) is not None
    catalog = state.catalog()
    yield from wait_for(lambda: bool(catalog.methods) or bool(catalog.error), 20.0)
    record["catalog_error"] = catalog.error
    record["methods"] = [m.name for m in catalog.methods]
    # Read once the catalog has answered: the action shows only when the daemon lists a photo method.
    photo = krita.action("impasto_photo_style")
    record["photo_visible"] = photo.isVisible() if photo is not None else None
    from PyQt5.QtWidgets import QWidget

    controls = sorted(
        w.objectName()[len("impasto_param_") :]
        for w in docker.findChildren(QWidget)
        if w.objectName().startswith("impasto_param_")
    )
    record["param_controls"] = controls
    gatys = catalog.method("gatys")
    record["schema_params"] = sorted(p.name for p in gatys.params) if gatys else []


def scenario_queue_cancel(record: dict[str, Any]) -> Steps:
    """Two jobs through the docker's queue: cancelling the long first one lets the second run at once."""
    from impasto_krita import api, state

    doc, source = yield from make_document("U8")
    queue = state.job_queue()
    queue.address = SERVER
    events: list[tuple[int, str]] = []
    progress_texts: list[str] = []
    docker = next((d for d in Krita.instance().dockers() if d.objectName() == "impasto_docker"), None)

    def on_event(job: Any, event: Any) -> None:
        events.append((job.id, event.kind))
        if docker is not None:
            progress_texts.append(docker.progress.format())

    queue.event.connect(on_event)
    long_request = api.prepare(
        "gatys", STYLE, {"size": 64, "steps": 2000, "coarse_steps": 0}, document=doc, node=source, preview_every=1
    )
    short_request = api.prepare("gatys", STYLE, FAST, document=doc, node=source, layer_name="second job")
    first = queue.submit(long_request, "long job")
    second = queue.submit(short_request, "short job")

    def first_progressed() -> bool:
        return any(j == first.id and kind == "progress" for j, kind in events)

    record["first_started"] = yield from wait_for(first_progressed, 60.0)
    record["second_state_while_first_runs"] = second.state
    cancelled_at = time.monotonic()
    queue.cancel(first)
    record["both_finished"] = yield from wait_for(lambda: first.finished and second.finished, 90.0)
    record["seconds_after_cancel"] = time.monotonic() - cancelled_at
    record["first_state"], record["first_message"] = first.state, first.message
    record["second_state"], record["second_message"] = second.state, second.message
    record["previews"] = sum(1 for j, kind in events if j == first.id and kind == "preview")
    record["progress_texts"] = progress_texts[:5]
    record["layers"] = layer_names(doc)
    queue.event.disconnect(on_event)
    record["job_states"] = {j.label: j.state for j in queue.jobs}


def scenario_builtin_style(record: dict[str, Any]) -> Steps:
    """A built-in style, as the docker offers it with thumbnails (when the daemon has any)."""
    from impasto_krita import state
    from PyQt5.QtWidgets import QListWidget

    catalog = state.catalog()
    record["styles"] = len(catalog.styles)
    if not catalog.styles:
        return
    style = catalog.styles[0]
    docker = next(d for d in Krita.instance().dockers() if d.objectName() == "impasto_docker")
    docker.form.select_method(style.method)
    yield 100
    shown = docker.findChild(QListWidget, "impasto_builtin_styles")
    record["thumbnails"] = sum(1 for i in range(shown.count()) if not shown.item(i).icon().isNull())
    record["listed"] = shown.count()
    record["for_method"] = len(catalog.styles_for(style.method))
    doc, source = yield from make_document("U8")
    select(doc, SELECTION)
    snapshot(record, "before", doc, source)
    node = stylize(method=style.method, style=style.id, params={}, outside="keep")
    record["new_name"] = node.name()
    record["expected_name"] = f"{style.method} · {style.id}"
    snapshot(record, "after", doc, source)


def scenario_menu_action(record: dict[str, Any]) -> Steps:
    """Tools ▸ Scripts ▸ impasto ▸ Stylize selection…: the real action, its dialog, the queue."""
    from impasto_krita import state
    from PyQt5.QtWidgets import QApplication, QLineEdit, QSpinBox

    doc, source = yield from make_document("U8")
    select(doc, SELECTION)
    snapshot(record, "before", doc, source)
    state.job_queue().address = SERVER

    def fill_in_and_accept() -> None:
        dialog = QApplication.activeModalWidget()
        record["dialog"] = dialog.objectName() if dialog is not None else None
        record["dialog_title"] = dialog.windowTitle() if dialog is not None else None
        if dialog is None:
            return
        form = dialog.form
        form.select_method("gatys")
        form.style_kind.setCurrentIndex(form.style_kind.findData("file"))
        dialog.findChild(QLineEdit, "impasto_style_file").setText(STYLE)
        for name, value in FAST.items():
            dialog.findChild(QSpinBox, f"impasto_param_{name}").setValue(value)
        dialog.accept()

    # The action opens a modal dialog: fill it in from a timer while exec_() runs its loop.
    QTimer.singleShot(500, fill_in_and_accept)
    Krita.instance().action("impasto_stylize_selection").trigger()
    queue = state.job_queue()
    job = queue.jobs[-1] if queue.jobs else None
    record["queued"] = job is not None
    if job is None:
        return
    record["finished"] = yield from wait_for(lambda: job.finished, 60.0)
    record["state"], record["message"] = job.state, job.message
    record["after_layers"] = layer_names(doc)
    snapshot(record, "after", doc, source)


def scenario_autostart(record: dict[str, Any]) -> Steps:
    """With no server given and none running, the plugin starts a local daemon itself."""
    import socket

    from impasto_krita import server

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
    krita = Krita.instance()
    krita.writeSetting("impasto", "address", address)
    krita.writeSetting("impasto", "autostart", "true")
    doc, _source = yield from make_document("U8")
    try:
        node = stylize(server=None)
        record["new_name"] = node.name()
        record["layers"] = layer_names(doc)
        record["started_pid"] = server._started.pid if server._started is not None else None
    finally:
        server.stop_started_daemon()
        krita.writeSetting("impasto", "address", SERVER)
        krita.writeSetting("impasto", "autostart", "false")


def scenario_remote_settings(record: dict[str, Any]) -> Steps:
    """The docker's Settings reach a daemon with TLS and a token; a wrong token or no TLS get a sentence each."""
    from impasto_krita.dialogs import SettingsDialog

    krita = Krita.instance()

    def configure(token: str, ca: str) -> None:
        for key, value in (("address", REMOTE["tls_server"]), ("token_file", token), ("tls_ca", ca)):
            krita.writeSetting("impasto", key, value)
        krita.writeSetting("impasto", "tls", "true" if ca else "false")

    doc, source = yield from make_document("U8")
    try:
        configure(REMOTE["token"], REMOTE["ca"])
        dialog = SettingsDialog()
        dialog.test_connection()
        record["test_connection"] = dialog.test_result.text()
        dialog.reject()
        node = stylize(server=None, autostart=False)
        record["new_name"] = node.name()
        record["layers"] = layer_names(doc)
        configure(REMOTE["wrong"], REMOTE["ca"])
        wrong: dict[str, Any] = {"name": "remote_settings_wrong"}
        _failure(wrong, doc, source, server=None, autostart=False)
        configure(REMOTE["token"], "")
        plain: dict[str, Any] = {"name": "remote_settings_plain"}
        _failure(plain, doc, source, server=None, autostart=False)
        record["wrong_token"], record["plain"] = wrong, plain
    finally:
        for key in ("token_file", "tls_ca"):
            krita.writeSetting("impasto", key, "")
        krita.writeSetting("impasto", "tls", "false")
        krita.writeSetting("impasto", "address", SERVER)


# ---------------------------------------------------------------- training a style


def all_layers(doc: Any) -> list[Any]:
    """Every node but the document's own selection masks, depth-first from the bottom of the stack."""
    from impasto_krita.api import walk

    return [n for n in walk(doc) if n.type() != "selectionmask"]


def snapshot_document(record: dict[str, Any], prefix: str, doc: Any) -> None:
    """Every layer's name and pixels over the whole canvas, and the visible image: what training must not change."""
    layers = all_layers(doc)
    record[f"{prefix}_all_layers"] = [f"{n.name()} ({n.type()})" for n in layers]
    for i, node in enumerate(layers):
        dump(record, f"{prefix}_layer{i}", node.pixelData(0, 0, W, H))
    dump(record, f"{prefix}_projection", doc.pixelData(0, 0, W, H))


def impasto_docker() -> Any:
    return next((d for d in Krita.instance().dockers() if d.objectName() == "impasto_docker"), None)


def listed_in_picker(docker: Any) -> list[str]:
    from PyQt5.QtCore import Qt
    from PyQt5.QtWidgets import QListWidget

    shown = docker.findChild(QListWidget, "impasto_builtin_styles")
    return [shown.item(i).data(Qt.UserRole) for i in range(shown.count())]


def scenario_train_active(record: dict[str, Any]) -> Steps:
    """The scripting API trains a quick style from the active layer; the document stays as it was; the new
    style shows in the docker's picker and stylizes the layer with method cin."""
    from impasto_krita import StylizeError, state, train_style_active

    doc, source = yield from make_document("U8")
    # Refused before anything is read or sent: no name, an unknown effort, a missing picture.
    for key, kwargs in (
        ("no_name", {"name": " ,; "}),
        ("bad_effort", {"name": "x", "effort": "perfect"}),
        ("no_file", {"name": "x", "source": "/nonexistent/style.png"}),
    ):
        try:
            train_style_active(server=SERVER, **kwargs)
        except StylizeError as err:
            record[f"{key}_error"] = err.code
        else:
            record[f"{key}_error"] = None
    snapshot_document(record, "pre_train", doc)
    events: list[Any] = []
    started = time.monotonic()
    style_id = train_style_active(
        "Krita test style", effort="quick", source="layer", overrides=TRAIN_TINY, server=SERVER, on_event=events.append
    )
    record["train_seconds"] = round(time.monotonic() - started, 2)
    record["style_id"] = style_id
    record["progress"] = [[e.step, e.total] for e in events if e.kind == "progress"]
    record["losses"] = [sorted(e.losses) for e in events if e.kind == "progress"][:1]
    yield 100
    snapshot_document(record, "post_train", doc)
    record["active_node_after"] = doc.activeNode().name()

    catalog = state.catalog()
    record["catalog_lists"] = yield from wait_for(lambda: style_id in [s.id for s in catalog.styles], 20.0)
    docker = impasto_docker()
    if docker is not None:
        docker.form.select_method("cin")
        yield 100
        record["picker_lists"] = style_id in listed_in_picker(docker)

    snapshot(record, "before", doc, source)
    node = stylize(method="cin", style=style_id, params={})
    new_layer_facts(record, doc, source, node)
    x, y, w, h = LAYER_RECT
    dump(record, "result", node.pixelData(x, y, w, h))
    snapshot(record, "after", doc, source)


def scenario_train_dialog(record: dict[str, Any]) -> Steps:
    """The docker's Train dialog, driven by its widgets: trains from the active layer, then the docker picks
    the new style; progress shows steps, losses and an ETA."""
    from impasto_krita import jobs

    docker = impasto_docker()
    doc, _source = yield from make_document("U8")
    snapshot_document(record, "pre_train", doc)
    docker.train_button.click()
    yield 100
    dialog = docker.train_dialog
    record["dialog"] = dialog.objectName() if dialog is not None else None
    record["dialog_title"] = dialog.windowTitle() if dialog is not None else None
    record["dialog_visible"] = dialog is not None and dialog.isVisible()
    if dialog is None:
        return
    dialog.name.setText("Dialog style")
    record["saved_as"] = dialog.saved_as.text()
    dialog.source.setCurrentIndex(dialog.source.findData("layer"))
    dialog.effort.setCurrentIndex(dialog.effort.findData("quick"))
    record["efforts"] = [dialog.effort.itemData(i) for i in range(dialog.effort.count())]
    dialog.overrides = dict(TRAIN_TINY)
    dialog.preview_every = 1  # a three-step training would otherwise show none
    dialog.start_button.click()
    job = dialog.job
    record["started"] = job is not None
    if job is None:
        record["refused"] = dialog.progress.format()
        return
    texts: list[list[str]] = []
    job.event.connect(lambda _e: texts.append([dialog.progress.format(), dialog.details.text()]))
    record["editable_while_running"] = dialog.name.isEnabled() or dialog.start_button.isEnabled()
    record["finished"] = yield from wait_for(lambda: job.finished, 90.0)
    record["state"], record["message"], record["code"] = job.state, job.message, job.code
    record["style_id"], record["method"] = job.style_id, job.method
    record["done_text"] = dialog.progress.format()
    pixmap = dialog.preview.pixmap()
    record["preview_shown"] = dialog.preview.isVisible() and pixmap is not None and not pixmap.isNull()
    record["texts"] = texts

    from PyQt5.QtCore import Qt

    def picked() -> bool:
        current = docker.form.current_method()
        item = docker.form.builtin.currentItem()
        return (
            current is not None
            and current.name == job.method
            and item is not None
            and item.data(Qt.UserRole) == job.style_id
        )

    record["docker_picked"] = job.state == jobs.DONE and (yield from wait_for(picked, 20.0))
    record["docker_status"] = docker.progress.format()
    snapshot_document(record, "post_train", doc)


def scenario_train_cancel(record: dict[str, Any]) -> Steps:
    """A long training from a picture file through the dialog, opened from the menu: its Cancel stops it on the
    daemon."""
    docker = impasto_docker()
    doc, _source = yield from make_document("U8")
    if docker.train_dialog is not None:  # left open by train_dialog: the action must show it again
        docker.train_dialog.hide()
        yield 50
    Krita.instance().action("impasto_train_style").trigger()
    yield 100
    dialog = docker.train_dialog
    record["opened_by_action"] = dialog.isVisible()
    dialog.name.setText("Cancel me")
    dialog.source.setCurrentIndex(dialog.source.findData("file"))
    dialog.path.setText(STYLE)
    # No checkpoint on the way: one after Cancel is then the daemon's own stop, not a periodic save.
    dialog.overrides = {**TRAIN_TINY, "steps": 2000, "checkpoint_every": 100_000}
    dialog.preview_every = 5  # previews between progress events, as a real training sends them
    dialog.start_button.click()
    job = dialog.job
    record["started"] = job is not None and not job.finished
    if job is None:
        record["refused"] = dialog.progress.format()
        return
    record["model_name"] = job.model_name

    # Two steps: the daemon has timed one, so the dialog can show an ETA.
    record["progressed"] = yield from wait_for(
        lambda: job.finished or (job.progress is not None and job.progress.step >= 2), 90.0
    )
    yield 50
    record["running_text"] = dialog.progress.format()
    record["running_details"] = dialog.details.text()
    record["cancel_label"] = dialog.cancel_button.text()
    cancelled_at = time.monotonic()
    dialog.cancel_button.click()
    record["cancelling_text"] = dialog.progress.format()
    record["finished"] = yield from wait_for(lambda: job.finished, 30.0)
    record["seconds_after_cancel"] = round(time.monotonic() - cancelled_at, 2)
    record["state"], record["code"], record["message"] = job.state, job.code, job.message
    record["last_step"] = job.progress.step if job.progress is not None else None
    record["end_text"] = dialog.progress.format()
    record["editable_again"] = dialog.name.isEnabled() and dialog.start_button.isEnabled()
    record["layers"] = layer_names(doc)
    dialog.cancel_button.click()  # with nothing running: closes the dialog
    yield 50
    record["closed"] = not dialog.isVisible()


SCENARIOS = [
    ("ui", scenario_ui),
    ("channel_order", scenario_channel_order),
    ("active_layer", scenario_active_layer),
    ("selection_transparent", scenario_selection_transparent),
    ("u8_keep_colors", scenario_u8_keep_colors),
    ("u16_keep", scenario_u16_keep),
    ("f16_keep", scenario_f16_keep),
    ("f32_layer", scenario_f32_layer),
    ("projection", scenario_projection),
    ("style_layer", scenario_style_layer),
    ("paired_documents", scenario_paired_documents),
    ("paired_local_selection", scenario_paired_local_selection),
    ("saved_selections", scenario_saved_selections),
    ("dead_server", scenario_dead_server),
    ("unsupported", scenario_unsupported),
    ("no_selection", scenario_no_selection),
    ("queue_cancel", scenario_queue_cancel),
    ("builtin_style", scenario_builtin_style),
    ("menu_action", scenario_menu_action),
    ("train_active", scenario_train_active),
    ("train_dialog", scenario_train_dialog),
    ("train_cancel", scenario_train_cancel),
    ("autostart", scenario_autostart),
    ("remote_settings", scenario_remote_settings),
]


def scenario_runtime_missing(record: dict[str, Any]) -> Steps:
    """Installed for another Python, the plugin cannot load gRPC: it must say what to run, in a box and to scripts."""
    import impasto_krita
    from PyQt5.QtWidgets import QApplication

    yield 500
    record["load_error"] = impasto_krita.LOAD_ERROR
    boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "impasto_runtime_missing"]
    record["box_text"] = boxes[0].text() if boxes and boxes[0].isVisible() else ""
    try:
        impasto_krita.stylize_active()
    except impasto_krita.StylizeError as err:
        record["script_error"] = err.message
    for box in boxes:
        box.close()


# Run only when IMPASTO_TEST_ONLY names them: they need an installation of their own.
ON_REQUEST = [("runtime_missing", scenario_runtime_missing)]


class Runner:
    """Steps through the scenarios from Krita's event loop, one QTimer callback per step."""

    def __init__(self) -> None:
        self.pending = [(n, fn) for n, fn in SCENARIOS if not ONLY or n in ONLY]
        self.pending += [(n, fn) for n, fn in ON_REQUEST if n in ONLY]
        self.steps: Steps | None = None
        self.record: dict[str, Any] = {}
        self.started = 0.0

    def start(self) -> None:
        QTimer.singleShot(0, self.next_scenario)

    def next_scenario(self) -> None:
        if not self.pending:
            report["done"] = True
            self.finish()
            return
        name, fn = self.pending.pop(0)
        self.record = {"name": name}
        report["scenarios"][name] = self.record
        self.started = time.monotonic()
        try:
            self.steps = fn(self.record)
        except Exception:
            self.end(traceback.format_exc())
            return
        self.step()

    def step(self) -> None:
        assert self.steps is not None
        try:
            delay = next(self.steps)
        except StopIteration:
            self.end(None)
        except Exception:
            self.end(traceback.format_exc())
        else:
            QTimer.singleShot(delay, self.step)

    def end(self, failure: str | None) -> None:
        self.record["ok"] = failure is None
        if failure is not None:
            self.record["traceback"] = failure
        self.record["elapsed"] = round(time.monotonic() - self.started, 2)
        save_report()
        QTimer.singleShot(0, self.next_scenario)

    def finish(self) -> None:
        save_report()
        # Krita would ask about unsaved documents; its exit status is meaningless anyway.
        os._exit(0)


class TestDriver(Extension):
    def setup(self) -> None:
        pass

    def createActions(self, window: Any) -> None:
        # After the window is up and every plugin (impasto among them) has registered.
        QTimer.singleShot(1000, RUNNER.start)


os.makedirs(OUT, exist_ok=True)
RUNNER = Runner()
Krita.instance().addExtension(TestDriver(Krita.instance()))
