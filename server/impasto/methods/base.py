"""What every method is: a schema, declared capabilities, and run(inputs, context) → image."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch

from ..imaging.resample import resize
from ..params import Param, Scalar


class JobCancelled(Exception):
    """The client went away or cancelled; the job stops at its next step."""


@dataclass
class StyleSource:
    """One style for a job: a picture (RGB 0..1 tensor) or a built-in style id, with its blend weight."""

    weight: float
    image: torch.Tensor | None = None
    builtin: str | None = None
    # A stable key for caching what is derived from this style (features, Grams).
    key: str = ""
    # [1,R,h,w] coverage of each of the job's regions in this style picture (channel r pairs with
    # channel r of Regions.content); None when the style has no labels, so every region uses all of it.
    guides: torch.Tensor | None = None


@dataclass
class Regions:
    """Region-to-region pairing from label maps or named masks (Gatys et al. 2017; Luan et al. 2017).

    Channel r of `content` is region `names[r]` in the content; a style's `guides` channel r is its
    partner in that style (the whole style where the style has no such region).
    """

    names: list[str]
    content: torch.Tensor  # [1,R,H,W] coverage 0..1, same size as MethodInput.content
    # Per style, the names of the content's regions that style's labels lack (they use the whole style).
    unmatched: list[list[str]] = field(default_factory=list)
    # The content is its own label map (a doodle with no separate photo to keep).
    content_is_labels: bool = False


@dataclass
class MethodOutput:
    """A result, plus any further layers a method returns (e.g. analogy's second direction)."""

    image: torch.Tensor  # [1,3,H,W] RGB 0..1 at the working size
    # Named extra results, each [1,3,h,w] at its own size; they come back as extra layers, unblended.
    extra_layers: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class MethodInput:
    content: torch.Tensor  # [1,3,H,W] RGB 0..1 on the job's device
    styles: list[StyleSource]
    params: dict[str, Scalar]
    # [1,1,H,W] coverage 0..1 of the selection within `content`, or None.
    mask: torch.Tensor | None = None
    # Paired regions from label maps, or None when the request has none.
    regions: Regions | None = None

    def at_size(self, height: int, width: int) -> MethodInput:
        """The same job with its content, selection and regions resized to height x width."""
        mask = None if self.mask is None else resize(self.mask, height, width).clamp(0, 1)
        regions = self.regions
        if regions is not None:
            regions = replace(regions, content=resize(regions.content, height, width).clamp(0, 1))
        return MethodInput(resize(self.content, height, width), self.styles, self.params, mask, regions)


@dataclass(frozen=True)
class BuiltinStyle:
    """A style shipped with a method, listed by ListStyles."""

    id: str
    name: str
    method: str
    license: str
    thumbnail: Any = None  # H×W×3 uint8 array, or None


class LRUCache:
    """A small thread-safe cache of models and style features shared between jobs."""

    def __init__(self, capacity: int = 32) -> None:
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            gate = self._loading.setdefault(key, threading.Lock())
        # One job builds a model while others wanting the same one wait for it.
        with gate:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = make()
            with self._lock:
                self._items[key] = value
                self._loading.pop(key, None)
                while len(self._items) > self._capacity:
                    self._items.popitem(last=False)
            return value


@dataclass
class JobContext:
    """What a running method may use: its device, shared caches, progress and cancellation."""

    device: torch.device
    models: LRUCache
    features: LRUCache
    report: Callable[[str, int, int, float | None], None] = lambda stage, step, total, loss: None
    send_preview: Callable[[torch.Tensor, int], None] = lambda image, step: None
    preview_every: int = 0
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled()

    def progress(
        self,
        stage: str,
        step: int,
        total: int,
        loss: float | None = None,
        preview: Callable[[], torch.Tensor] | None = None,
    ) -> None:
        """Reports a step (with the objective's value where the method has one), sends a preview when due, and stops
        here if the job was cancelled.

        `preview` is called only when a preview is due, so methods pay nothing otherwise.
        """
        self.check()
        self.report(stage, step, total, loss)
        if preview is not None and self.preview_every and step % self.preview_every == 0:
            self.send_preview(preview(), step)


class Method:
    """Base of all methods; subclasses set the class attributes and implement run()."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    # Where the method sits in ListMethods (and so in the editors' method lists); ties go by name.
    list_order: ClassVar[int] = 1000
    max_styles: ClassVar[int] = 1
    takes_style_images: ClassVar[bool] = True
    takes_builtin_styles: ClassVar[bool] = False
    takes_mask: ClassVar[bool] = True
    takes_label_maps: ClassVar[bool] = False
    supports_preserve_color: ClassVar[bool] = True
    # Luminance-only transfer feeds the method grey images (Gatys et al. 2017) when True;
    # feed-forward networks see colour and only their output's luminance is kept.
    luminance_inputs: ClassVar[bool] = True

    def builtin_styles(self) -> list[BuiltinStyle]:
        return []

    def working_size(self, height: int, width: int, params: dict[str, Scalar]) -> tuple[int, int]:
        """The size the method computes at; the pipeline resizes to and from it."""
        return height, width

    def estimate_bytes(self, height: int, width: int, params: dict[str, Scalar]) -> int:
        """Rough peak memory of one run at the working size, to refuse jobs that cannot fit."""
        return 0

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor | MethodOutput:
        raise NotImplementedError
