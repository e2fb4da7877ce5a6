"""The one training loop: every kind of model is trained, checkpointed, resumed, stopped and saved here.

A run is deterministic given its settings: the initial weights come from the seed, the batches from a generator
seeded by it, and a checkpoint holds the weights, Adam's state, the step and both random states, so stopping and
resuming gives the weights a run straight through would have given (same device, same settings).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..errors import InvalidInput, NotFound, ResourceExhausted
from ..imaging.resample import resize
from ..params import Scalar, resolve
from ..runtime.memory import available_bytes
from ..runtime.trained import (
    TrainedModel,
    atomic_save,
    checkpoint_path,
    model_path,
    read_payload,
    save_model,
)
from .base import Trainer, TrainInputs
from .photos import PhotoSet

CHECKPOINT_FORMAT = "impasto-training-checkpoint"
CHECKPOINT_VERSION = 1
THUMBNAIL_SIDE = 64
# Settings a resumed run may change: how long it goes on and how often it saves.
RESUMABLE_CHANGES = {"steps", "checkpoint_every"}
# A training step keeps VGG19's activations to relu5_1 for the backward pass, plus the generator's: a cin-style run
# at 256 px, batch 4, peaked at 1.4 GB RSS in bfloat16 (about 3.4 KB a pixel above the networks); float32 needs more.
TRAIN_BYTES_PER_PIXEL = 5000
TRAIN_BASE_BYTES = 600 << 20


@dataclass(frozen=True)
class TrainProgress:
    step: int
    total: int
    losses: dict[str, float]
    steps_per_second: float
    eta_seconds: float
    preview: torch.Tensor | None = None  # [1,3,h,w] RGB 0..1 of the probe photo, when one is due


@dataclass
class TrainRequest:
    trainer: Trainer
    name: str
    settings: dict[str, Scalar] = field(default_factory=dict)  # as given; defaults fill the rest
    style: torch.Tensor | None = None  # [1,3,H,W] RGB 0..1
    style_key: str = ""  # identifies the style picture (its SHA-256), so a resume can check it is the same one
    photos: Path | None = None  # None: the default set
    models_dir: Path | None = None
    resume: bool = False
    overwrite: bool = False
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))


@dataclass(frozen=True)
class TrainResult:
    finished: bool
    step: int
    total: int
    model: TrainedModel | None  # the saved model when finished
    checkpoint: Path


@dataclass
class Hooks:
    """How a run talks to whoever started it: progress, a stop request, and a pause point between steps."""

    report: Callable[[TrainProgress], None] = lambda progress: None
    stop_requested: Callable[[], bool] = lambda: False
    # Called between steps: the daemon runs waiting interactive jobs here, so training never blocks painting.
    between_steps: Callable[[], None] = lambda: None
    preview_every: int = 0
    probe: torch.Tensor | None = None  # the photo previews show; default: a bundled photo


def train(request: TrainRequest, hooks: Hooks | None = None) -> TrainResult:
    hooks = hooks or Hooks()
    trainer = request.trainer
    settings = resolve(trainer.params, request.settings, trainer.kind)
    name = trainer.model_name(request.name, settings)
    target = model_path(trainer.model_kind, name, request.models_dir)
    checkpoint = checkpoint_path(trainer.kind, name, request.models_dir)
    if trainer.needs_style and request.style is None:
        raise InvalidInput(f"style: {trainer.kind} learns from a style picture; give one")
    saved = _resume_point(request, name, settings, checkpoint) if request.resume else None
    if saved is None:
        _refuse_overwriting(request, name, target, checkpoint)
    _check_memory(settings, request.device)
    photos = PhotoSet.from_folder(request.photos, int(settings["size"])) if trainer.needs_photos else None
    photo_names = photos.names if photos is not None else []
    if saved is not None and saved.get("photos") != photo_names:
        raise InvalidInput(
            f"photos: the checkpoint {checkpoint} was trained on other photos than these; resume with the same "
            f"photos, or start afresh (overwrite, --overwrite)"
        )
    device = request.device
    inputs = TrainInputs(device, request.style.to(device) if request.style is not None else None, photos)
    learner = trainer.learner(settings, inputs)
    base_rate, decay = float(settings["learning_rate"]), float(settings["lr_decay"])
    optimizer = torch.optim.Adam(learner.parameters(), lr=base_rate)
    generator = torch.Generator().manual_seed(int(settings["seed"]))
    step = 0
    # The last step's named losses: kept in the checkpoint, so a resumed run that has no steps left still records
    # them in the model.
    losses: dict[str, float] = {}
    if saved is not None:
        losses = {str(k): float(v) for k, v in saved.get("losses", {}).items()}
        try:
            learner.load_state(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            generator.set_state(saved["rng"]["data"])
            torch.set_rng_state(saved["rng"]["torch"])
        except (RuntimeError, KeyError, ValueError, TypeError) as err:
            detail = " ".join(str(err).split())[:200]
            raise InvalidInput(f"resume: {checkpoint} does not fit this {trainer.kind} run ({detail})") from None
        step = int(saved["step"])

    def save_checkpoint() -> None:
        atomic_save(
            {
                "format": CHECKPOINT_FORMAT,
                "version": CHECKPOINT_VERSION,
                "kind": trainer.kind,
                "name": name,
                "settings": settings,
                "style_key": request.style_key,
                "photos": photo_names,
                "step": step,
                "losses": losses,
                "model": {k: v.detach().cpu() for k, v in learner.state().items()},
                "optimizer": optimizer.state_dict(),
                "rng": {"data": generator.get_state(), "torch": torch.get_rng_state()},
            },
            checkpoint,
        )

    total = int(settings["steps"])
    batch = int(settings["batch"])
    probe = _probe(hooks.probe, device)
    rate = _Rate()
    saved_at = step
    while step < total:
        if hooks.stop_requested():
            break
        started = time.perf_counter()
        images = photos.batch(batch, generator).to(device) if photos is not None else None
        named = learner.losses(images, generator)
        loss = sum(named.values())
        if not torch.isfinite(loss):
            raise InvalidInput(
                f"training diverged at step {step + 1} (the loss is {float(loss)}); the last checkpoint is kept: "
                f"lower learning_rate and resume (--resume), or start afresh"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for group in optimizer.param_groups:
            group["lr"] = base_rate / (1.0 + decay * step)
        optimizer.step()
        step += 1
        losses = {k: float(v.detach()) for k, v in named.items()}
        rate.add(time.perf_counter() - started)
        preview = None
        if hooks.preview_every and step % hooks.preview_every == 0:
            preview = learner.render(probe).detach().clamp(0, 1).cpu()
        hooks.report(TrainProgress(step, total, losses, rate.per_second(), rate.eta(total - step), preview))
        if step - saved_at >= int(settings["checkpoint_every"]) and step < total:
            save_checkpoint()
            saved_at = step
        hooks.between_steps()
    save_checkpoint()
    if step < total:
        return TrainResult(False, step, total, None, checkpoint)
    square = min(probe.shape[-2:])
    top, left = (probe.shape[-2] - square) // 2, (probe.shape[-1] - square) // 2
    centre = probe[..., top : top + square, left : left + square]
    thumbnail = learner.render(resize(centre, THUMBNAIL_SIDE, THUMBNAIL_SIDE)).detach().clamp(0, 1)
    record = {
        **settings,
        **learner.record(),
        "trained_steps": step,
        "final_losses": losses,
        "style_key": request.style_key,
        "photos": photo_names,
        "device": str(device),
        "impasto_version": __version__,
    }
    model = TrainedModel(
        trainer.model_kind,
        name,
        target,
        {k: v.detach().cpu() for k, v in learner.state().items()},
        record,
        torch.from_numpy(np.rint(thumbnail[0].permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)),
    )
    save_model(model)
    return TrainResult(True, step, total, model, checkpoint)


def _check_memory(settings: dict[str, Scalar], device: torch.device) -> None:
    """Refuses a run whose batch cannot fit, before loading anything, instead of letting the system kill it."""
    side, batch = int(settings["size"]), int(settings["batch"])
    need = TRAIN_BYTES_PER_PIXEL * batch * side * side + TRAIN_BASE_BYTES
    free = available_bytes(device)
    if free is not None and need > free:
        raise ResourceExhausted(
            f"training on {batch} crops of {side}x{side} needs about {need / 2**30:.1f} GiB but only "
            f"{free / 2**30:.1f} GiB is free; lower size or batch"
        )


def _refuse_overwriting(request: TrainRequest, name: str, target: Path, checkpoint: Path) -> None:
    if request.overwrite:
        return
    kind = request.trainer.kind
    if target.exists():
        raise InvalidInput(
            f"name: a {request.trainer.model_kind} model named '{name}' exists ({target}); choose another "
            f"name, or replace it (overwrite, --overwrite)"
        )
    if checkpoint.exists():
        raise InvalidInput(
            f"name: an unfinished {kind} run named '{name}' exists ({checkpoint}); resume it (--resume), or "
            f"start afresh (overwrite, --overwrite)"
        )


def _resume_point(request: TrainRequest, name: str, settings: dict[str, Scalar], checkpoint: Path) -> dict[str, Any]:
    """The checkpoint to go on from, after checking it belongs to this run."""
    trainer = request.trainer
    if not checkpoint.exists():
        raise NotFound(f"resume: there is no checkpoint of a {trainer.kind} run named '{name}' ({checkpoint})")
    saved = read_payload(checkpoint, "resume")
    if saved.get("format") != CHECKPOINT_FORMAT or saved.get("version") != CHECKPOINT_VERSION:
        raise InvalidInput(f"resume: {checkpoint} is not an impasto training checkpoint")
    if saved.get("kind") != trainer.kind or saved.get("name") != name:
        raise InvalidInput(
            f"resume: {checkpoint} is a checkpoint of a {saved.get('kind')} run named {saved.get('name')!r}, "
            f"not of this {trainer.kind} run"
        )
    for key in ("model", "optimizer", "rng", "step", "settings"):
        if key not in saved:
            raise InvalidInput(f"resume: {checkpoint} is incomplete (it has no {key})")
    before = saved["settings"]
    changed = sorted(k for k in settings if k not in RESUMABLE_CHANGES and before.get(k) != settings[k])
    if changed:
        key = changed[0]
        raise InvalidInput(
            f"resume: the run was trained with {key}={before.get(key)!r}, not {settings[key]!r}; resume with the "
            f"same settings (only steps and checkpoint_every may change), or start afresh (overwrite, --overwrite)"
        )
    if saved.get("style_key") != request.style_key:
        raise InvalidInput("resume: this is not the style picture the run was trained on")
    if int(saved["step"]) > int(settings["steps"]):
        raise InvalidInput(f"steps: the run is already at step {saved['step']}; ask for more steps to go on")
    return saved


def _probe(probe: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    if probe is None:
        from ..imaging.imagefiles import read_image
        from ..imaging.pixels import image_to_tensor
        from ..samples import SAMPLES

        probe = resize(image_to_tensor(read_image(SAMPLES / "chelsea.png")), 128, 192)
    return probe.to(device)


class _Rate:
    """Steps per second over the recent steps (the first steps are slow while caches warm up)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def add(self, seconds: float) -> None:
        self.seconds = [*self.seconds[-19:], seconds]

    def per_second(self) -> float:
        mean = sum(self.seconds) / len(self.seconds) if self.seconds else math.inf
        return 1.0 / mean if mean > 0 else 0.0

    def eta(self, remaining: int) -> float:
        rate = self.per_second()
        return remaining / rate if rate > 0 else 0.0
