"""Training a style from the editors: the choices a painter makes (a name, an effort), as one decision shared by
the Krita and GIMP plugins, on top of Client.train."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .client import Client, ImpastoError, TrainCall
from .images import Image
from .wire import ParamScalar


@dataclass(frozen=True)
class Effort:
    """How hard to train: which kind of model, and the settings that decide its time and quality."""

    label: str
    kind: str
    params: Mapping[str, ParamScalar] = field(default_factory=dict)
    hint: str = ""


EFFORTS: dict[str, Effort] = {
    # Only the 26-style network's scales and shifts: minutes on a laptop's CPU, blends with the built-in styles.
    "quick": Effort(
        "Quick",
        "cin-style",
        {"size": 128, "batch": 2, "steps": 200},
        "a few minutes on a CPU; a real-time style for the 26-style network",
    ),
    # A whole network for the style: sharper and richer, an hour or more on a CPU, minutes on a GPU.
    "good": Effort(
        "Good",
        "fast",
        {"size": 256, "batch": 4, "steps": 2000, "width": "full"},
        "an hour or more on a CPU, minutes on a GPU; a network of its own",
    ),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def model_name(text: str) -> str:
    """A painter's title ("My sunset, v2") as a model name the daemon accepts ("My-sunset-v2")."""
    name = _UNSAFE.sub("-", text.strip()).strip("-_")[:64]
    if not name:
        raise ImpastoError("INVALID_ARGUMENT", "give the style a name (letters or digits)")
    return name


def train_style(
    client: Client,
    style: Image,
    name: str,
    effort: str = "quick",
    *,
    overrides: Mapping[str, ParamScalar] | None = None,
    overwrite: bool = False,
    resume: bool = False,
    preview_every: int = 0,
) -> TrainCall:
    """Starts training a style from a picture; iterate the call for progress, its last event names the style id."""
    chosen = EFFORTS.get(effort)
    if chosen is None:
        raise ImpastoError("INVALID_ARGUMENT", f"effort must be one of {', '.join(EFFORTS)}, not {effort!r}")
    params = {**chosen.params, **(overrides or {})}
    return client.train(
        chosen.kind,
        model_name(name),
        style=style,
        params=params,
        overwrite=overwrite,
        resume=resume,
        preview_every=preview_every,
    )


def format_duration(seconds: float) -> str:
    """'45 s', '3 min 05 s', '1 h 20 min': an ETA a painter reads at a glance."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def loss_summary(losses: Mapping[str, float]) -> str:
    """'loss 8.5e+08 (style 8.4e+08, content 7e+06, tv 7.1)': the total first, then its parts, largest first, so
    a painter watching a long run sees it still learning and the text does not jump about between steps."""
    if not losses:
        return ""
    parts = ", ".join(f"{key} {value:.3g}" for key, value in sorted(losses.items(), key=lambda kv: -abs(kv[1])))
    return f"loss {sum(losses.values()):.3g} ({parts})"
