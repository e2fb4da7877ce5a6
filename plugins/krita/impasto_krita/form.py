"""The stylize form shared by the docker and the menu dialogs, built from the daemon's ListMethods schema."""

from __future__ import annotations

import json
import math
from typing import Any

from PyQt5.QtCore import QSize, Qt, pyqtSignal
from PyQt5.QtGui import QIcon, QImage, QPixmap
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from impasto_client import Image
from impasto_client.client import MethodInfo, ParamInfo, ParamScalar

from . import pixels, settings
from .api import find_node
from .catalog import Catalog
from .errors import StylizeError

INT_LIMIT = 2**31 - 1
PREVIEW_EVERY = 10
BUILTIN, FILE, LAYER = "builtin", "file", "layer"


def qimage(image: Image) -> QImage:
    """A wire image (any layout and depth) as a QImage that owns its pixels."""
    data = pixels.to_rgba8(image)
    return QImage(data, image.width, image.height, image.width * 4, QImage.Format_RGBA8888).copy()


def _krita() -> Any:
    from krita import Krita

    return Krita.instance()


class _SpinBox(QSpinBox):
    # Qt sizes a spin box for its longest possible value, which for open ranges is
    # wider than a docker; shrinking costs nothing since values scroll in the field.
    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), 64), hint.height())


class _DoubleSpinBox(QDoubleSpinBox):
    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), 64), hint.height())


def _combo() -> QComboBox:
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)
    return combo


class ParamEditor(QWidget):
    """One control per method parameter: the schema decides the kind, range, default and tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self._params: list[ParamInfo] = []
        self._widgets: dict[str, QWidget] = {}

    def build(self, params: list[ParamInfo], values: dict[str, Any]) -> None:
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._params, self._widgets = params, {}
        for param in params:
            widget = self._control(param)
            widget.setObjectName(f"impasto_param_{param.name}")
            widget.setToolTip(param.help)
            self._widgets[param.name] = widget
            label = QLabel(param.name.replace("_", " ").capitalize())
            label.setToolTip(param.help)
            self._layout.addRow(label, widget)
            self._set(param, values.get(param.name, param.default))

    @staticmethod
    def _control(param: ParamInfo) -> QWidget:
        if param.type == "int":
            box = _SpinBox()
            low = max(-INT_LIMIT, int(param.minimum)) if param.minimum is not None else -INT_LIMIT
            high = min(INT_LIMIT, int(param.maximum)) if param.maximum is not None else INT_LIMIT
            box.setRange(low, high)
            return box
        if param.type == "float":
            dbox = _DoubleSpinBox()
            dbox.setDecimals(4)
            dbox.setRange(
                param.minimum if param.minimum is not None else -1e12,
                param.maximum if param.maximum is not None else 1e12,
            )
            # Weights span decades: step by a tenth of the default's size rather than by one.
            default = abs(float(param.default or 0.0))
            dbox.setSingleStep(10 ** round(math.log10(default)) / 10 if default > 0 else 0.1)
            return dbox
        if param.type == "bool":
            return QCheckBox()
        if param.type == "choice":
            combo = _combo()
            combo.addItems(param.choices)
            return combo
        return QLineEdit()

    def _set(self, param: ParamInfo, value: Any) -> None:
        widget = self._widgets[param.name]
        try:
            if isinstance(widget, QSpinBox):
                widget.setValue(int(value))
            elif isinstance(widget, QDoubleSpinBox):
                widget.setValue(float(value))
            elif isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QComboBox):
                index = widget.findText(str(value))
                widget.setCurrentIndex(max(0, index))
            elif isinstance(widget, QLineEdit):
                widget.setText("" if value is None else str(value))
        except (TypeError, ValueError):
            pass  # a stale saved value: the control keeps its default

    def reset(self) -> None:
        for param in self._params:
            self._set(param, param.default)

    def values(self) -> dict[str, ParamScalar]:
        out: dict[str, ParamScalar] = {}
        for name, widget in self._widgets.items():
            if isinstance(widget, QSpinBox):
                out[name] = widget.value()
            elif isinstance(widget, QDoubleSpinBox):
                out[name] = float(widget.value())
            elif isinstance(widget, QCheckBox):
                out[name] = widget.isChecked()
            elif isinstance(widget, QComboBox):
                out[name] = widget.currentText()
            elif isinstance(widget, QLineEdit):
                out[name] = widget.text()
        return out


class StylizeForm(QWidget):
    """Method, style, parameters and options; `request_kwargs()` turns them into api.prepare's arguments."""

    method_changed = pyqtSignal(str)

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self._method_name = settings.read_value("method", "")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        top = QFormLayout()
        self.method = _combo()
        self.method.setObjectName("impasto_method")
        self.method.currentIndexChanged.connect(self._on_method)
        top.addRow("Method", self.method)
        self.description = QLabel()
        self.description.setWordWrap(True)
        font = self.description.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.description.setFont(font)
        top.addRow(self.description)
        layout.addLayout(top)

        self.style_box = QGroupBox("Style")
        style_layout = QVBoxLayout(self.style_box)
        self.style_kind = _combo()
        self.style_kind.setObjectName("impasto_style_kind")
        style_layout.addWidget(self.style_kind)
        # Only the chosen kind's page is shown, so the box is as tall as that page alone.
        self.style_pages: dict[str, QWidget] = {}
        self.builtin = QListWidget()
        self.builtin.setObjectName("impasto_builtin_styles")
        self.builtin.setViewMode(QListView.IconMode)
        self.builtin.setIconSize(QSize(48, 48))
        self.builtin.setResizeMode(QListView.Adjust)
        self.builtin.setMovement(QListView.Static)
        self.builtin.setMinimumHeight(90)
        self.style_pages[BUILTIN] = self.builtin
        file_page = QWidget()
        file_row = QHBoxLayout(file_page)
        file_row.setContentsMargins(0, 0, 0, 0)
        self.style_file = QLineEdit(settings.read_value("style_file", ""))
        self.style_file.setObjectName("impasto_style_file")
        self.style_file.setPlaceholderText("A picture whose style to use")
        browse = QToolButton()
        browse.setText("…")
        browse.clicked.connect(self._browse)
        file_row.addWidget(self.style_file)
        file_row.addWidget(browse)
        self.style_pages[FILE] = file_page
        layer_page = QWidget()
        layer_column = QVBoxLayout(layer_page)
        layer_column.setContentsMargins(0, 0, 0, 0)
        layer_row = QHBoxLayout()
        self.style_layer = _combo()
        self.style_layer.setObjectName("impasto_style_layer")
        reload_layers = QToolButton()
        reload_layers.setText("⟳")
        reload_layers.setToolTip("Refresh the list of layers of open documents")
        reload_layers.clicked.connect(self.refresh_layers)
        layer_row.addWidget(self.style_layer, 1)
        layer_row.addWidget(reload_layers)
        layer_column.addLayout(layer_row)
        # The plain case of region transfer needs no controls, only a word on how to ask for it.
        pairing = QLabel(
            "A selection in the style's document (or a local selection on the style layer) pairs with "
            "this layer's selection: selected ↔ selected, the rest ↔ the rest."
        )
        pairing.setObjectName("impasto_pairing_hint")
        pairing.setWordWrap(True)
        hint_font = pairing.font()
        hint_font.setPointSizeF(hint_font.pointSizeF() * 0.9)
        pairing.setFont(hint_font)
        layer_column.addWidget(pairing)
        self.style_pages[LAYER] = layer_page
        for page in self.style_pages.values():
            style_layout.addWidget(page)
        self.style_kind.currentIndexChanged.connect(self._on_style_kind)
        layout.addWidget(self.style_box)

        self.params_box = QGroupBox("Parameters")
        self.params_box.setCheckable(True)
        self.params_box.setChecked(settings.read_value("show_params", "false") == "true")
        params_layout = QVBoxLayout(self.params_box)
        self.params = ParamEditor()
        self.params.setVisible(self.params_box.isChecked())
        self.params_box.toggled.connect(self._on_params_toggled)
        reset = QPushButton("Reset to defaults")
        reset.clicked.connect(self.params.reset)
        params_layout.addWidget(self.params)
        params_layout.addWidget(reset, 0, Qt.AlignRight)
        layout.addWidget(self.params_box)

        options = QFormLayout()
        self.source = _combo()
        self.source.setObjectName("impasto_source")
        self.source.addItem("Active layer", "layer")
        self.source.addItem("Visible image (all layers)", "projection")
        options.addRow("Stylize", self.source)
        self.outside = _combo()
        self.outside.setObjectName("impasto_outside")
        self.outside.addItem("Transparent", "transparent")
        self.outside.addItem("Same as the source", "keep")
        options.addRow("Outside the selection", self.outside)
        self.colors = _combo()
        self.colors.setObjectName("impasto_preserve_color")
        self.colors.addItem("Style's colours", "none")
        self.colors.addItem("Keep colours (luminance)", "luminance")
        self.colors.addItem("Keep colours (match histogram)", "histogram")
        options.addRow("Colours", self.colors)
        self.preview = QCheckBox("Live preview while it runs")
        self.preview.setChecked(settings.read_value("preview", "true") == "true")
        options.addRow(self.preview)
        layout.addLayout(options)

        catalog.updated.connect(self.reload)
        self.reload()

    # ---------------------------------------------------------------- building from the schema

    def reload(self) -> None:
        """Rebuilds the method list from the catalog, keeping the current choice where it still exists."""
        current = self.current_method()
        wanted = current.name if current else self._method_name
        self.method.blockSignals(True)
        self.method.clear()
        for info in self.catalog.methods:
            self.method.addItem(info.title or info.name, info.name)
            self.method.setItemData(self.method.count() - 1, info.description, Qt.ToolTipRole)
        index = self.method.findData(wanted)
        self.method.setCurrentIndex(index if index >= 0 else 0)
        self.method.blockSignals(False)
        self.setEnabled(bool(self.catalog.methods))
        self._on_method()

    def current_method(self) -> MethodInfo | None:
        name = self.method.currentData()
        return self.catalog.method(name) if name else None

    def select_method(self, name: str) -> bool:
        index = self.method.findData(name)
        if index >= 0:
            self.method.setCurrentIndex(index)
        else:
            self._method_name = name  # picked once the catalog lists it
        return index >= 0

    def select_style(self, style_id: str, method: str) -> bool:
        """Picks a style the daemon lists (a newly trained one) with its method; False where it is not listed."""
        if not self.select_method(method):
            return False
        index = self.style_kind.findData(BUILTIN)
        if index < 0:
            return False
        self.style_kind.setCurrentIndex(index)
        for row in range(self.builtin.count()):
            item = self.builtin.item(row)
            if item.data(Qt.UserRole) == style_id:
                self.builtin.setCurrentItem(item)
                self.builtin.scrollToItem(item)
                return True
        return False

    def _saved_params(self, method: str) -> dict[str, Any]:
        try:
            saved = json.loads(settings.read_value(f"params.{method}", "{}"))
        except ValueError:
            return {}
        return saved if isinstance(saved, dict) else {}

    def _on_method(self) -> None:
        info = self.current_method()
        self.description.setText(info.description if info else self.catalog.error or "Connecting to impasto…")
        self.params.build(info.params if info else [], self._saved_params(info.name) if info else {})
        self.params_box.setVisible(bool(info and info.params))
        self.style_box.setVisible(bool(info and info.max_styles > 0))
        self.colors.setEnabled(bool(info and info.supports_preserve_color))
        self.outside.setEnabled(bool(info is None or info.takes_mask))
        kind = self.style_kind.currentData()
        self.style_kind.blockSignals(True)
        self.style_kind.clear()
        if info and info.takes_builtin_styles:
            self.style_kind.addItem("Built-in style", BUILTIN)
        if info and info.takes_style_images:
            self.style_kind.addItem("Image file", FILE)
            self.style_kind.addItem("Layer of an open document", LAYER)
        index = self.style_kind.findData(kind or settings.read_value("style_kind", BUILTIN))
        self.style_kind.setCurrentIndex(max(0, index))
        self.style_kind.blockSignals(False)
        self.builtin.clear()
        for style in self.catalog.styles_for(info.name) if info else []:
            item = QListWidgetItem(style.name or style.id)
            item.setData(Qt.UserRole, style.id)
            item.setToolTip(f"{style.name} ({style.id}) — {style.license}")
            if style.thumbnail is not None:
                item.setIcon(QIcon(QPixmap.fromImage(qimage(style.thumbnail))))
            self.builtin.addItem(item)
        if self.builtin.count():
            self.builtin.setCurrentRow(0)
        self._on_style_kind()
        if info:
            self.method_changed.emit(info.name)

    def _on_style_kind(self) -> None:
        kind = self.style_kind.currentData()
        for name, page in self.style_pages.items():
            page.setVisible(name == kind)
        if kind == LAYER:
            self.refresh_layers()

    def _on_params_toggled(self, on: bool) -> None:
        self.params.setVisible(on)
        settings.write_value("show_params", "true" if on else "false")

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Style picture", self.style_file.text(), "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
        )
        if path:
            self.style_file.setText(path)

    def refresh_layers(self) -> None:
        """Lists every layer of every open document, so any of them can serve as the style."""
        keep = self.style_layer.currentData()
        self.style_layer.clear()
        for doc in _krita().documents():
            title = doc.name() or doc.fileName() or "Untitled"
            pending = [(n, "") for n in reversed(doc.rootNode().childNodes())]
            while pending:
                node, prefix = pending.pop()
                if node.type() in ("selectionmask", "transparencymask", "filtermask", "transformmask"):
                    continue
                label = f"{title} ▸ {prefix}{node.name()}"
                self.style_layer.addItem(label, (doc.fileName(), title, node.uniqueId().toString()))
                pending.extend((c, f"{prefix}{node.name()} ▸ ") for c in reversed(node.childNodes()))
        if keep is not None:
            index = self.style_layer.findData(keep)
            if index >= 0:
                self.style_layer.setCurrentIndex(index)

    # ---------------------------------------------------------------- reading the form

    def _style(self, info: MethodInfo) -> tuple[Any, str]:
        if info.max_styles == 0:
            return None, ""
        kind = self.style_kind.currentData()
        if kind == BUILTIN:
            item = self.builtin.currentItem()
            if item is None:
                raise StylizeError("INVALID_ARGUMENT", "pick a built-in style")
            return item.data(Qt.UserRole), item.text()
        if kind == FILE:
            path = self.style_file.text().strip()
            if not path:
                raise StylizeError("INVALID_ARGUMENT", "choose a style picture (the … button)")
            return path, ""
        if kind == LAYER:
            data = self.style_layer.currentData()
            if data is None:
                raise StylizeError("INVALID_ARGUMENT", "choose a layer to use as the style")
            _file, title, uid = data
            from PyQt5.QtCore import QUuid

            for doc in _krita().documents():
                if (doc.name() or doc.fileName() or "Untitled") == title:
                    node = find_node(doc, QUuid(uid))
                    if node is not None:
                        return node, node.name()
            raise StylizeError("NOT_FOUND", "the style layer is gone; refresh the list and choose again")
        raise StylizeError("INVALID_ARGUMENT", "this method takes no style this plugin knows how to send")

    def request_kwargs(self) -> dict[str, Any]:
        """api.prepare's keyword arguments for the form's current state; remembers it for next time."""
        info = self.current_method()
        if info is None:
            raise StylizeError("UNAVAILABLE", self.catalog.error or "the impasto daemon has not answered yet")
        style, label = self._style(info)
        params = self.params.values()
        settings.write_value("method", info.name)
        settings.write_value(f"params.{info.name}", json.dumps(params))
        settings.write_value("style_kind", self.style_kind.currentData() or "")
        settings.write_value("style_file", self.style_file.text())
        settings.write_value("preview", "true" if self.preview.isChecked() else "false")
        return {
            "method": info.name,
            "style": style,
            "style_label": label or None,
            "params": params,
            "preserve_color": self.colors.currentData() if self.colors.isEnabled() else "none",
            "source": self.source.currentData(),
            "takes_label_maps": info.takes_label_maps,
            "outside": self.outside.currentData(),
            "preview_every": PREVIEW_EVERY if self.preview.isChecked() else 0,
        }
