"""Training a style from Krita: the Qt-free part shared by the scripting API and the docker's Train dialog.

What a painter's choices mean (the effort's model kind and settings, the safe model name) is decided once in
impasto_client.training; this module only turns its events into text for Krita and its errors into StylizeError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from impasto_client import Client, Image, ImpastoError, TrainEvent
from impasto_client.client import ParamScalar, TrainCall
from impasto_client.training import EFFORTS, format_duration, loss_summary, model_name, train_style

from .errors import StylizeError

# Where the style picture comes from besides a file path: the active layer or the visible image.
PICTURE_SOURCES = ("layer", "projection")


def check_choices(name: str, effort: str) -> str:
    """The model name the daemon will get; raises StylizeError before anything is read or started."""
    if effort not in EFFORTS:
        raise StylizeError("INVALID_ARGUMENT", f"effort must be one of {', '.join(EFFORTS)}, not {effort!r}")
    try:
        return model_name(name)
    except ImpastoError as err:
        raise StylizeError(err.code, err.message) from None


def run_training(
    client: Client,
    picture: Image,
    name: str,
    effort: str,
    *,
    overrides: Mapping[str, ParamScalar] | None = None,
    overwrite: bool = False,
    preview_every: int = 0,
    on_event: Callable[[TrainEvent], None] | None = None,
    on_call: Callable[[TrainCall], None] | None = None,
) -> TrainEvent:
    """Trains on the daemon until the model is saved (any thread; touches no Krita object); returns the model event.

    `on_call` receives the running call as soon as it exists, so another thread can cancel it.
    """
    try:
        call = train_style(
            client, picture, name, effort, overrides=overrides, overwrite=overwrite, preview_every=preview_every
        )
        if on_call is not None:
            on_call(call)
        return call.result(on_event)
    except ImpastoError as err:
        raise StylizeError(err.code, err.message) from None


def describe_training(event: TrainEvent) -> tuple[str, str, int, int]:
    """A short line for the progress bar, a longer one (losses, speed, ETA), and the bar's value and maximum.

    Maximum 0 means busy without a known end; value -1 means the event changes nothing shown (a preview).
    """
    if event.kind == "connecting":
        return "Connecting to the daemon…", "", 0, 0
    if event.kind == "queued":
        ahead = event.position
        return ("Waiting for the daemon" + (f" ({ahead} ahead)" if ahead else "…")), "", 0, 0
    if event.kind == "progress":
        details = [loss_summary(event.losses)]
        if event.steps_per_second > 0:
            details.append(f"{event.steps_per_second:.2g} steps/s")
        if event.step < event.total and event.eta_seconds >= 1:
            details.append(f"about {format_duration(event.eta_seconds)} left")
        elif event.step < event.total and event.eta_seconds > 0:
            details.append("under a second left")
        # An ETA of 0 before the end means the daemon has not timed a step yet: better nothing than "0 s left".
        text = f"Training: step {event.step}/{event.total}" if event.total else "Training…"
        return text, " · ".join(d for d in details if d), event.step, event.total
    if event.kind == "model":
        return f"Trained {event.style_id} in {format_duration(event.seconds)}", "", 1, 1
    return "", "", -1, -1
