"""Editor selections as regions: the plain case of region-to-region transfer.

A painter who selects the sky in a photo and the sky in the style picture means "the
sky from the sky, the rest from the rest"; one who has saved selections called "sky"
and "sea" in both means the same, by name. Both editors describe that with the same
facts (the content's selection and saved selections, each style's, whether the method
pairs regions, whether the result is to stay inside the selection), so the decision
lives here, once, and the plugins only read selections and write layers.

Selections travel as GRAY 8-bit coverage masks the size of the image they belong to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .client import Style
from .images import Image, Layout, SampleType

SELECTED, REST = "selection", "rest"
_INVERT = bytes(range(255, -1, -1))


@dataclass(frozen=True)
class SelectionPlan:
    """What to send for a content selection and the styles' selections."""

    # The part of the content to stylize; None: all of it, so the result is not cut back.
    mask: Image | None
    # The styles to send: a style's selection crops it when the method cannot pair regions.
    styles: list[Style]
    content_labels: Mapping[str, Image] | None
    style_labels: list[Mapping[str, Image] | None]

    @property
    def paired(self) -> bool:
        return self.content_labels is not None

    @property
    def summary(self) -> str:
        """A few words for the result layer's name on how selections shaped it ("" when they did not)."""
        if self.content_labels is None:
            return ""
        names = [name for name in self.content_labels if name != REST]
        return "selections paired" if names == [SELECTED] else "regions " + ", ".join(names)


def plan_selections(
    content_size: tuple[int, int],
    content_selection: Image | None,
    styles: Sequence[Style],
    style_selections: Sequence[Image | None],
    *,
    takes_label_maps: bool,
    restrict: bool = False,
    content_regions: Mapping[str, Image] | None = None,
    style_regions: Sequence[Mapping[str, Image] | None] = (),
) -> SelectionPlan:
    """Decides how selections shape a job.

    Saved selections (`content_regions`, `style_regions`: name → mask) that the content
    and a style share a name in pair by name, and what none of them covers pairs with
    what none of the style's covers; the content's selection is then where to stylize.
    Otherwise, without a style selection, the content's selection is where to stylize
    (local transfer), as always. With one, and a method that pairs regions: the content's
    selection takes its look from the style's selection and the rest from the rest, over
    the whole layer; a content without a selection takes its look from the style's
    selection alone. `restrict` keeps the result inside the content's selection even
    then (a "stylize selection" command), pairing all of it with the style's selection.
    A method that cannot pair regions uses each selected style cropped to its selection.
    """
    if len(style_selections) > len(styles) or len(style_regions) > len(styles):
        raise ValueError("more style selections than styles")
    content_named = _with_rest(content_regions or {})
    if takes_label_maps and pairs_by_name(content_named, style_regions):
        named = [_with_rest(r) if r else None for r in style_regions]
        named += [None] * (len(styles) - len(named))
        return SelectionPlan(content_selection, list(styles), content_named, named)
    selections = [_meaningful(s) for s in style_selections]
    selections += [None] * (len(styles) - len(selections))
    if not any(selections):
        return SelectionPlan(content_selection, list(styles), None, [])
    if not takes_label_maps:
        pairs = zip(styles, selections, strict=True)
        cropped = [style if sel is None else _crop_style(style, sel) for style, sel in pairs]
        return SelectionPlan(content_selection, cropped, None, [])
    content = _meaningful(content_selection)
    if content is None or restrict:
        # Everything stylized is one region, whose partner is each style's selection.
        width, height = content_size
        whole = Image(width, height, Layout.GRAY, SampleType.UINT8, b"\xff" * (width * height))
        style_labels = [None if s is None else {SELECTED: s} for s in selections]
        return SelectionPlan(content_selection, list(styles), {SELECTED: whole}, style_labels)
    style_labels = [None if s is None else {SELECTED: s, REST: invert(s)} for s in selections]
    return SelectionPlan(None, list(styles), {SELECTED: content, REST: invert(content)}, style_labels)


def pairs_by_name(content_regions: Mapping[str, Image], style_regions: Sequence[Mapping[str, Image] | None]) -> bool:
    """Whether some style has a saved selection named like one of the content's."""
    return any(set(content_regions) & set(regions or {}) for regions in style_regions)


def invert(mask: Image) -> Image:
    """The unselected part: 255 − coverage."""
    return Image(mask.width, mask.height, mask.layout, mask.sample_type, _check(mask).data.translate(_INVERT))


def crop_to_selection(image: Image, selection: Image) -> Image:
    """The rectangle of `image` that holds every selected pixel."""
    if (image.width, image.height) != (selection.width, selection.height):
        raise ValueError(
            f"a {selection.width}x{selection.height} selection does not fit a {image.width}x{image.height} image"
        )
    data, width = _check(selection).data, selection.width
    rows = [y for y in range(selection.height) if data[y * width : (y + 1) * width].strip(b"\x00")]
    if not rows:
        raise ValueError("the selection is empty")
    left, right = width, 0
    for y in rows:
        row = data[y * width : (y + 1) * width]
        left = min(left, width - len(row.lstrip(b"\x00")))
        right = max(right, len(row.rstrip(b"\x00")))
    top, bottom = rows[0], rows[-1] + 1
    pixel = image.layout.channels * image.sample_type.size
    stride = image.width * pixel
    body = b"".join(image.data[y * stride + left * pixel : y * stride + right * pixel] for y in range(top, bottom))
    return Image(right - left, bottom - top, image.layout, image.sample_type, body)


def _crop_style(style: Style, selection: Image) -> Style:
    source, weight = style if isinstance(style, tuple) else (style, None)
    if not isinstance(source, Image):
        return style  # a built-in style has no pixels to select from
    cropped = crop_to_selection(source, selection)
    return cropped if weight is None else (cropped, weight)


def _with_rest(regions: Mapping[str, Image]) -> dict[str, Image]:
    """The regions that select something, plus what none of them selects as "rest"."""
    kept = {name: mask for name, mask in regions.items() if _check(mask).data.strip(b"\x00")}
    if not kept or REST in kept:
        return kept
    first = next(iter(kept.values()))
    # Bitwise OR as one big integer: the union of hard-edged masks exactly, and at least as much
    # as the strongest coverage along soft edges, at a hundredth of a per-pixel max's cost.
    union = 0
    for mask in kept.values():
        union |= int.from_bytes(mask.data, "little")
    rest = union.to_bytes(len(first.data), "little").translate(_INVERT)
    if rest.strip(b"\x00"):
        kept[REST] = Image(first.width, first.height, Layout.GRAY, SampleType.UINT8, rest)
    return kept


def _meaningful(selection: Image | None) -> Image | None:
    """The selection, or None where it selects nothing or everything (no region to pair)."""
    if selection is None:
        return None
    data = _check(selection).data
    return selection if data.strip(b"\x00") and data.strip(b"\xff") else None


def _check(mask: Image) -> Image:
    if mask.layout != Layout.GRAY or mask.sample_type != SampleType.UINT8:
        raise ValueError("a selection must be an 8-bit greyscale mask")
    return mask
