"""The scripting entry point and the Krita side of every job.

A job has three phases so the docker can run the slow middle one on a worker
thread: `prepare` (GUI thread: snapshot the layer, the selection and the
styles), `run` (any thread: talk to the daemon) and `apply` (GUI thread: add
the result layer). `stylize_active` runs all three, blocking.

    from impasto_krita import stylize_active
    node = stylize_active(method="gatys", style="/path/to/style.png", params={"steps": 100})

`train_style_active` teaches the daemon a new style from the active layer (or a
picture file) and returns its id, which `stylize_active` then takes as a style:

    style_id = train_style_active("My sunset", effort="quick")   # e.g. "cin:My-sunset"
    stylize_active(method="cin", style=style_id)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from impasto_client import Client, Connection, Image, ImpastoError, Layout, SampleType, StylizeEvent, TrainEvent
from impasto_client.client import ParamScalar, Style, StylizeCall
from impasto_client.selections import SelectionPlan, pairs_by_name, plan_selections

from . import pixels, training
from .errors import StylizeError
from .log import LOG
from .log import setup as setup_log
from .server import connect

SOURCES = ("layer", "projection")
SELECTION_MODES = ("auto", "require", "ignore")
OUTSIDE_MODES = ("transparent", "keep")
PRESERVE_COLOR = ("none", "luminance", "histogram")
# Node types that hold no pixels of their own to stylize.
MASK_TYPES = ("selectionmask", "transparencymask", "filtermask", "transformmask", "colorizemask")

# What a script may pass as a style: a built-in id, an image file path, "layer:NAME",
# a Krita Node, a client Image, or any of those with a blend weight.
StyleSpec = Any


@dataclass
class Request:
    """Everything one job needs, taken from the document when it was started."""

    document: Any  # krita.Document
    source_id: Any  # QUuid of the source layer; None for the visible image
    x: int
    y: int
    width: int
    height: int
    fmt: pixels.PixelFormat
    original: bytes  # the source's Krita pixel data, to keep unselected pixels bit-identical
    content: Image
    coverage: bytes | None  # selection, one byte per pixel of the source rectangle; None: everything
    outside: str
    method: str
    # The mask, styles and region labels to send, from the source's and the styles' selections.
    plan: SelectionPlan
    params: dict[str, ParamScalar]
    preserve_color: str
    preview_every: int
    name: str  # of the result layer

    @property
    def mask(self) -> Image | None:
        """The mask the daemon gets: None where the whole layer is stylized."""
        if self.plan.mask is None or self.outside != "transparent":
            return self.plan.mask
        # Cutting away the outside afterwards applies soft edges once, so the daemon
        # stylizes every partly selected pixel fully; keeping the layer lets it blend.
        return pixels.mask_image(pixels.binarize(self.plan.mask.data), self.width, self.height)


def _krita() -> Any:
    from krita import Krita

    return Krita.instance()


def _qbytes(data: bytes) -> Any:
    from PyQt5.QtCore import QByteArray

    return QByteArray(data)


def _choice(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise StylizeError("INVALID_ARGUMENT", f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


# ---------------------------------------------------------------- reading the document


def _document(document: Any) -> Any:
    doc = document if document is not None else _krita().activeDocument()
    if doc is None:
        raise StylizeError("NO_DOCUMENT", "no document is open: open or create an image first")
    return doc


def _layer_format(node: Any, what: str) -> pixels.PixelFormat:
    try:
        pixels.check_supported(node.colorModel(), node.colorDepth(), what)
    except pixels.UnsupportedColorSpace as err:
        raise StylizeError("UNSUPPORTED_COLOR_SPACE", str(err)) from None
    return pixels.PixelFormat(node.colorModel(), node.colorDepth(), node.colorProfile())


def _read_node(node: Any, x: int, y: int, w: int, h: int, fmt: pixels.PixelFormat) -> bytes:
    # A paint layer's own pixels are what the painter painted; other layers (vector,
    # group, file, fill) have only a rendering, their projection.
    if node.type() == "paintlayer":
        raw = bytes(node.pixelData(x, y, w, h))
    else:
        raw = bytes(node.projectionPixelData(x, y, w, h))
    if len(raw) != w * h * 4 * fmt.krita_sample_size:
        raise StylizeError("INTERNAL", f"Krita returned {len(raw)} bytes for a {w}x{h} {fmt.depth} area")
    return raw


def _read_source(doc: Any, node: Any, source: str) -> tuple[Any, tuple[int, int, int, int], pixels.PixelFormat, bytes]:
    if source == "projection":
        fmt = _layer_format(doc, "The image")
        w, h = doc.width(), doc.height()
        raw = bytes(doc.pixelData(0, 0, w, h))
        return None, (0, 0, w, h), fmt, raw
    node = node if node is not None else doc.activeNode()
    if node is None or node.type() in MASK_TYPES or node.type() == "":
        raise StylizeError("NO_LAYER", "select a layer to stylize (the active node is not a layer)")
    fmt = _layer_format(node, f"The layer '{node.name()}'")
    image_fmt = pixels.PixelFormat(doc.colorModel(), doc.colorDepth(), doc.colorProfile())
    if (fmt.model, fmt.depth) != (image_fmt.model, image_fmt.depth):
        # The result layer is created in the image's colour space.
        raise StylizeError(
            "UNSUPPORTED_COLOR_SPACE",
            f"the layer '{node.name()}' is {fmt.model}/{fmt.depth} but the image is {image_fmt.model}/"
            f"{image_fmt.depth}; convert the layer to the image's colour space first",
        )
    rect = node.bounds()
    if rect.isEmpty():
        raise StylizeError("EMPTY_LAYER", f"the layer '{node.name()}' is empty: there is nothing to stylize")
    x, y, w, h = rect.x(), rect.y(), rect.width(), rect.height()
    return node, (x, y, w, h), fmt, _read_node(node, x, y, w, h, fmt)


def _selection_masks(node: Any) -> list[Any]:
    """A layer's selection masks: Krita's local (saved) selections."""
    return [c for c in node.childNodes() if c.type() == "selectionmask"]


def _local_selection(node: Any) -> Any:
    """The layer's own (local) selection, which Krita's tools and filters use instead of the image's."""
    masks = [m for m in _selection_masks(node) if m.visible()] if node is not None else []
    return masks[0].selection() if masks else None


def _over_layer(selection: Any, node: Any) -> Image:
    """A selection over a layer's bounds as a GRAY u8 mask."""
    rect = node.bounds()
    x, y, w, h = rect.x(), rect.y(), rect.width(), rect.height()
    return pixels.mask_image(bytes(selection.pixelData(x, y, w, h)), w, h)


def saved_selections(node: Any) -> dict[str, Image]:
    """A layer's selection masks by name, over its bounds."""
    return {m.name(): _over_layer(m.selection(), node) for m in _selection_masks(node)}


def _coverage(doc: Any, node: Any, rect: tuple[int, int, int, int], mode: str, what: str) -> bytes | None:
    selection = None
    if mode != "ignore":
        selection = _local_selection(node) or doc.selection()
    if selection is None:
        if mode == "require":
            raise StylizeError("NO_SELECTION", "nothing is selected: select the area to stylize first")
        return None
    coverage = bytes(selection.pixelData(*rect))
    if pixels.is_empty(coverage):
        raise StylizeError("EMPTY_SELECTION", f"the selection does not cover any of {what}")
    return None if pixels.is_full(coverage) else coverage


# ---------------------------------------------------------------- styles


def image_from_file(path: str) -> Image:
    """An image file (anything Qt reads: PNG, JPEG, WebP, …) as an RGBA 8-bit wire image."""
    from PyQt5.QtGui import QImage

    image = QImage(path)
    if image.isNull():
        raise StylizeError("INVALID_ARGUMENT", f"cannot read the style image {path!r}")
    image = image.convertToFormat(QImage.Format_RGBA8888)
    bits = image.constBits()
    bits.setsize(image.height() * image.bytesPerLine())
    raw = bytes(bits)
    row = image.width() * 4
    if image.bytesPerLine() != row:
        raw = b"".join(raw[y * image.bytesPerLine() : y * image.bytesPerLine() + row] for y in range(image.height()))
    return Image(image.width(), image.height(), Layout.RGBA, SampleType.UINT8, raw)


def image_from_layer(node: Any) -> Image:
    """A layer's rendering as a wire image, for using one layer as another's style."""
    fmt = _layer_format(node, f"The style layer '{node.name()}'")
    rect = node.bounds()
    if rect.isEmpty():
        raise StylizeError("EMPTY_LAYER", f"the style layer '{node.name()}' is empty")
    x, y, w, h = rect.x(), rect.y(), rect.width(), rect.height()
    return pixels.to_wire(bytes(node.projectionPixelData(x, y, w, h)), w, h, fmt)


def style_selection(node: Any, content_doc: Any) -> Image | None:
    """What is selected of a style layer, over its bounds: its local selection, else its
    document's selection when that is another document (the content's own document's
    selection says what to stylize, not which part of the style to use)."""
    selection = _local_selection(node)
    if selection is None:
        doc = next((d for d in _krita().documents() if find_node(d, node.uniqueId()) is not None), None)
        selection = doc.selection() if doc is not None and doc != content_doc else None
    return _over_layer(selection, node) if selection is not None else None


def walk(doc: Any) -> Iterator[Any]:
    """Every node of the document, depth-first from the bottom of the layer stack."""
    pending = list(reversed(doc.rootNode().childNodes()))
    while pending:
        node = pending.pop()
        yield node
        pending.extend(reversed(node.childNodes()))


def find_node(doc: Any, unique_id: Any) -> Any:
    # Not Document.nodeByUniqueID: Krita 5.1's binding hands back a bare QObject.
    return next((n for n in walk(doc) if n.uniqueId() == unique_id), None)


def find_layer(doc: Any, name: str) -> Any:
    """The first layer called `name`, searching groups depth-first from the bottom of the stack."""
    for node in walk(doc):
        if node.name() == name and node.type() not in MASK_TYPES:
            return node
    raise StylizeError("NOT_FOUND", f"no layer called {name!r} in '{doc.name() or 'the image'}'")


@dataclass
class StyleInputs:
    """The styles as the client sends them, and what style layers say about their regions."""

    styles: list[Style]
    selections: list[Image | None]  # what is selected of each style layer
    regions: list[dict[str, Image]]  # each style layer's saved selections by name
    label: str  # for the layer name


def resolve_styles(style: StyleSpec | Sequence[StyleSpec] | None, doc: Any) -> StyleInputs:
    """The script's style argument as the client's style inputs, with the selections of style layers."""
    inputs = StyleInputs([], [], [], "")
    items = [] if style is None else list(style) if isinstance(style, list) else [style]
    labels: list[str] = []
    for item in items:
        weight = None
        if isinstance(item, tuple):
            item, weight = item
        node = None
        if isinstance(item, Image):
            value: str | Image = item
            labels.append("image")
        elif isinstance(item, str) and os.path.isfile(item):
            value = image_from_file(item)
            labels.append(os.path.splitext(os.path.basename(item))[0])
        elif isinstance(item, str) and item.startswith("layer:"):
            node = find_layer(doc, item[len("layer:") :])
        elif isinstance(item, str):
            value = item  # a built-in style id; the daemon says if it does not know it
            labels.append(item)
        elif hasattr(item, "projectionPixelData"):
            node = item
        else:
            raise StylizeError("INVALID_ARGUMENT", f"cannot use {item!r} as a style")
        if node is not None:
            value = image_from_layer(node)
            labels.append(node.name())
        inputs.styles.append(value if weight is None else (value, float(weight)))
        inputs.selections.append(style_selection(node, doc) if node is not None else None)
        inputs.regions.append(saved_selections(node) if node is not None else {})
    inputs.label = " + ".join(labels)
    return inputs


# ---------------------------------------------------------------- the three phases


def prepare(
    method: str,
    style: StyleSpec | Sequence[StyleSpec] | None = None,
    params: Mapping[str, ParamScalar] | None = None,
    preserve_color: str = "none",
    *,
    source: str = "layer",
    selection: str = "auto",
    outside: str = "transparent",
    preview_every: int = 0,
    layer_name: str | None = None,
    style_label: str | None = None,
    document: Any = None,
    node: Any = None,
    takes_label_maps: bool = True,
) -> Request:
    """Snapshots what a job sends (GUI thread). Raises StylizeError without touching the document.

    A style layer with a selection of its own pairs it with the source's selection (see
    impasto_client.selections); `takes_label_maps` is the method's MethodInfo field.
    selection="require" keeps the result inside the source's selection even then.
    """
    _choice("source", source, SOURCES)
    _choice("selection", selection, SELECTION_MODES)
    _choice("outside", outside, OUTSIDE_MODES)
    _choice("preserve_color", preserve_color, PRESERVE_COLOR)
    doc = _document(document)
    src, rect, fmt, raw = _read_source(doc, node, source)
    what = f"the layer '{src.name()}'" if src is not None else "the image"
    x, y, w, h = rect
    inputs = resolve_styles(style, doc)
    regions = saved_selections(src) if src is not None and selection != "ignore" else {}
    # Saved selections that pair by name are regions, so only the image's selection says what to stylize.
    by_name = takes_label_maps and pairs_by_name(regions, inputs.regions)
    coverage = _coverage(doc, None if by_name else src, rect, selection, what)
    plan = plan_selections(
        (w, h),
        pixels.mask_image(coverage, w, h) if coverage is not None else None,
        inputs.styles,
        inputs.selections if selection != "ignore" else [],
        takes_label_maps=takes_label_maps,
        restrict=selection == "require",
        content_regions=regions,
        style_regions=inputs.regions,
    )
    if layer_name is None:
        layer_name = " · ".join(filter(None, (method, style_label or inputs.label)))
        if preserve_color != "none":
            layer_name += " (colours kept)"
        if plan.paired:
            layer_name += f" ({plan.summary})"
    return Request(
        document=doc,
        source_id=src.uniqueId() if src is not None else None,
        x=x,
        y=y,
        width=w,
        height=h,
        fmt=fmt,
        original=raw,
        content=pixels.to_wire(raw, w, h, fmt),
        coverage=coverage,
        outside=outside,
        method=method,
        plan=plan,
        params=dict(params or {}),
        preserve_color=preserve_color,
        preview_every=preview_every,
        name=layer_name,
    )


def run(
    request: Request,
    client: Client,
    on_event: Callable[[StylizeEvent], None] | None = None,
    on_call: Callable[[StylizeCall], None] | None = None,
) -> Image:
    """Runs the job on the daemon and returns its result (any thread; touches no Krita object)."""
    try:
        call = client.stylize(
            request.content,
            request.plan.styles,
            method=request.method,
            mask=request.mask,
            params=request.params,
            preserve_color=request.preserve_color,
            preview_every=request.preview_every,
            content_labels=request.plan.content_labels,
            style_labels=request.plan.style_labels,
        )
        if on_call is not None:
            on_call(call)
        result = call.result(on_event)
    except ImpastoError as err:
        raise StylizeError(err.code, err.message) from None
    if (result.width, result.height) != (request.width, request.height):
        raise StylizeError(
            "INTERNAL",
            f"the daemon answered {result.width}x{result.height} for a {request.width}x{request.height} layer",
        )
    return result


def result_pixels(request: Request, result: Image) -> bytes:
    """The result layer's Krita pixel data: converted back, and cut or kept outside the selection."""
    try:
        data = pixels.from_wire(result, request.fmt)
    except ValueError as err:
        raise StylizeError("INTERNAL", str(err)) from None
    if request.coverage is None or request.plan.mask is None:
        return data  # nothing selected, or selections paired: the whole layer is the result
    if request.outside == "keep":
        return pixels.restore_unselected(data, request.original, request.coverage, 4 * request.fmt.krita_sample_size)
    return pixels.cut_to_selection(data, request.coverage, request.fmt.depth)


def apply(request: Request, result: Image) -> Any:
    """Adds the result as a new paint layer above the source (GUI thread) and returns its node.

    Pixels are written before the layer joins the image, so adding it is the
    only change to the document: one undo step removes it, pixels and all.
    """
    krita = _krita()
    doc = request.document
    if not any(d == doc for d in krita.documents()):
        raise StylizeError("DOCUMENT_CLOSED", "the document was closed before the result arrived")
    data = result_pixels(request, result)
    source = find_node(doc, request.source_id) if request.source_id is not None else None
    node = doc.createNode(request.name, "paintlayer")
    node.setPixelData(_qbytes(data), request.x, request.y, request.width, request.height)
    if source is not None:
        source.parentNode().addChildNode(node, source)
    else:
        # The visible image (or a source deleted meanwhile): on top of everything.
        root = doc.rootNode()
        children = root.childNodes()
        root.addChildNode(node, children[-1] if children else None)
    doc.waitForDone()
    LOG.info("added layer %r (%dx%d at %d,%d)", request.name, request.width, request.height, request.x, request.y)
    return node


def stylize_active(
    method: str = "gatys",
    style: StyleSpec | Sequence[StyleSpec] | None = None,
    params: Mapping[str, ParamScalar] | None = None,
    preserve_color: str = "none",
    server: str | Connection | None = None,
    *,
    source: str = "layer",
    selection: str = "auto",
    outside: str = "transparent",
    autostart: bool | None = None,
    preview_every: int = 0,
    on_event: Callable[[StylizeEvent], None] | None = None,
    layer_name: str | None = None,
    document: Any = None,
    node: Any = None,
) -> Any:
    """Stylizes the active layer (within the active selection) and returns the new layer's node.

    style: a built-in style id ("cin26:3"), an image file path, "layer:NAME", a Krita
    Node, or a list of those, each optionally as (style, weight) to blend.
    preserve_color: "none", "luminance" or "histogram".
    server: the daemon's address, or a Connection (token, TLS); None uses the
    plugin's settings (and may start a local daemon there). source: "layer" or "projection" (the visible image).
    selection: "auto" (use it if there is one), "require" or "ignore".
    outside: "transparent" or "keep" (a copy of the layer) outside the selection.

    Blocks until the result is in. On failure raises StylizeError with a clear
    message and leaves the document as it was.
    """
    setup_log()
    _document(document)  # no document: say so before starting a daemon
    client = connect(server, autostart=autostart)
    try:
        try:
            info = next((m for m in client.list_methods() if m.name == method), None)
        except ImpastoError as err:
            raise StylizeError(err.code, err.message) from None
        request = prepare(
            method,
            style,
            params,
            preserve_color,
            source=source,
            selection=selection,
            outside=outside,
            preview_every=preview_every,
            layer_name=layer_name,
            document=document,
            node=node,
            # An unknown method is the daemon's to explain, when the job is sent.
            takes_label_maps=info.takes_label_maps if info is not None else True,
        )
        LOG.info("stylize_active: %s on %dx%d (%s)", method, request.width, request.height, request.fmt.depth)
        result = run(request, client, on_event)
    finally:
        client.close()
    return apply(request, result)


# ---------------------------------------------------------------- training a style


def style_picture(source: str = "layer", document: Any = None, node: Any = None) -> tuple[Image, str]:
    """The picture to train a style on, and a label for it; only reads the document (GUI thread).

    source: "layer" (the active layer, or `node`, as it looks with its masks), "projection" (the visible
    image) or the path of a picture file.
    """
    if source not in training.PICTURE_SOURCES:
        if not os.path.isfile(source):
            raise StylizeError("NOT_FOUND", f"there is no picture file {source!r} to train a style on")
        return image_from_file(source), os.path.basename(source)
    doc = _document(document)
    if source == "projection":
        fmt = _layer_format(doc, "The image")
        w, h = doc.width(), doc.height()
        return pixels.to_wire(bytes(doc.pixelData(0, 0, w, h)), w, h, fmt), "the visible image"
    node = node if node is not None else doc.activeNode()
    if node is None or node.type() in MASK_TYPES or node.type() == "":
        raise StylizeError("NO_LAYER", "select the layer to learn the style from (the active node is not a layer)")
    return image_from_layer(node), node.name()


def _refresh_catalog() -> None:
    """Has the docker's style picker list what the daemon offers now, a newly trained style included."""
    try:
        from . import state
    except ImportError:  # outside Krita (no PyQt5): there is no docker to tell
        return
    state.catalog().refresh()


def train_style_active(
    name: str,
    effort: str = "quick",
    source: str = "layer",
    overrides: Mapping[str, ParamScalar] | None = None,
    server: str | Connection | None = None,
    *,
    autostart: bool | None = None,
    overwrite: bool = False,
    preview_every: int = 0,
    on_event: Callable[[TrainEvent], None] | None = None,
    document: Any = None,
    node: Any = None,
) -> str:
    """Trains a new style on the daemon from the active layer or a picture, and returns its style id.

    name: the painter's title ("My sunset, v2"), made into a model name ("My-sunset-v2").
    effort: "quick" (a style for the 26-style network, method "cin") or "good" (a network of its own,
    method "fast"); see impasto_client.training.EFFORTS. source: "layer", "projection" or a file path.
    overrides: training settings on top of the effort's (e.g. {"steps": 50}). overwrite: replace a style
    (or an unfinished run) of the same name. server/autostart: as for stylize_active.

    Blocks until the model is saved; the id ("cin:My-sunset") works at once as `stylize_active`'s style.
    Nothing in the document changes. On failure raises StylizeError (code "CANCELLED" when stopped).
    """
    setup_log()
    training.check_choices(name, effort)
    picture, label = style_picture(source, document, node)
    client = connect(server, autostart=autostart)
    try:
        LOG.info("train_style_active: %r (%s) from %s, %dx%d", name, effort, label, picture.width, picture.height)
        model = training.run_training(
            client,
            picture,
            name,
            effort,
            overrides=overrides,
            overwrite=overwrite,
            preview_every=preview_every,
            on_event=on_event,
        )
    finally:
        client.close()
    LOG.info("trained style %s (method %s) in %.1f s", model.style_id, model.method, model.seconds)
    _refresh_catalog()
    return model.style_id
