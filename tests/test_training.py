"""Training: the one loop (losses fall, resume equals straight through, stop keeps a checkpoint), trained models
used at once through the real daemon, training yielding to Stylize, the CLI, and bad input refused clearly.

Every run is tiny (32-64 px, a few steps) on the bundled photos; IMPASTO_MODELS_DIR points each test at its own
folder, for the in-process loop and the session daemon alike.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from impasto.errors import InvalidInput, NotFound, ResourceExhausted
from impasto.imaging.imagefiles import read_image
from impasto.imaging.pixels import image_to_tensor
from impasto.networks.transformer import TransformerNet
from impasto.runtime.trained import checkpoint_path
from impasto.samples import SAMPLES
from impasto.training.kinds import TRAINERS, trainer
from impasto.training.loop import Hooks, TrainRequest, TrainResult, train
from impasto_client import Client, ImpastoError

from .conftest import as_array, rgb_image, scene, stripes

TINY = {"size": 32, "batch": 1, "steps": 6, "checkpoint_every": 2, "precision": "float32"}


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("IMPASTO_MODELS_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for name in ("chelsea", "astronaut", "coffee"):
        shutil.copy(SAMPLES / f"{name}.png", folder)
    return folder


@pytest.fixture(scope="module")
def style() -> torch.Tensor:
    return image_to_tensor(read_image(SAMPLES / "swirls.png"))


def request(kind: str, photos: Path, style: torch.Tensor, **settings) -> TrainRequest:
    """A tiny run; decoders take no style picture and no name (their methods find them by a fixed one)."""
    learns_a_style = trainer(kind).needs_style
    return TrainRequest(
        trainer(kind), "tiny" if learns_a_style else "", {**TINY, **settings}, style if learns_a_style else None,
        "swirls" if learns_a_style else "", photos,
    )  # fmt: skip


@pytest.mark.parametrize("kind", sorted(TRAINERS))
def test_each_kind_learns(kind: str, models: Path, photos: Path, style: torch.Tensor) -> None:
    """The same seed draws the same batches whatever the step size, so a run that barely moves its weights is the
    baseline for each step's loss (some kinds' losses swing with the random style a step draws)."""

    def run(learning_rate: float) -> tuple[list[float], TrainResult]:
        totals: list[float] = []
        run = request(kind, photos, style, steps=16, size=48, batch=2, learning_rate=learning_rate)
        run.overwrite = True
        result = train(run, Hooks(report=lambda p: totals.append(sum(p.losses.values()))))
        return totals, result

    still, _ = run(1e-6)
    totals, result = run(float(next(p.default for p in trainer(kind).params if p.name == "learning_rate")))
    assert result.finished and result.step == 16 and len(totals) == 16
    assert still[0] == pytest.approx(totals[0])  # the same first batch
    assert sum(totals[-4:]) < 0.9 * sum(still[-4:]), (totals, still)
    assert result.model is not None and result.model.path.is_file()
    assert result.model.thumbnail.dtype == torch.uint8 and result.model.thumbnail.shape == (64, 64, 3)


@pytest.mark.parametrize("kind", sorted(TRAINERS))
def test_stopping_and_resuming_gives_the_weights_of_a_run_straight_through(
    kind: str, tmp_path: Path, photos: Path, style: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPASTO_MODELS_DIR", str(tmp_path / "straight"))
    straight = train(request(kind, photos, style)).model
    monkeypatch.setenv("IMPASTO_MODELS_DIR", str(tmp_path / "resumed"))
    steps: list[int] = []
    first = train(
        request(kind, photos, style),
        Hooks(report=lambda p: steps.append(p.step), stop_requested=lambda: len(steps) >= 3),
    )
    assert not first.finished and first.step == 3 and first.checkpoint.is_file()
    assert not list((tmp_path / "resumed" / trainer(kind).model_kind).glob("*.pt"))
    moved = tmp_path / "moved-photos"  # the same photos in another folder: the run still resumes
    shutil.copytree(photos, moved)
    resumed = train(TrainRequest(**{**vars(request(kind, moved, style)), "resume": True})).model
    assert straight is not None and resumed is not None
    assert straight.state.keys() == resumed.state.keys()
    for key in straight.state:
        assert torch.equal(straight.state[key], resumed.state[key]), key
    # Resumed once more with no steps left, the model is written again with the last step's losses.
    again = train(TrainRequest(**{**vars(request(kind, moved, style)), "resume": True})).model
    assert again is not None and again.settings["final_losses"] == straight.settings["final_losses"] != {}


def test_cin_style_leaves_the_26_styles_bit_identical(models: Path, photos: Path, style: torch.Tensor) -> None:
    from impasto.networks.cin import load_multistyle26

    before = {k: v.clone() for k, v in load_multistyle26().state_dict().items()}
    model = train(request("cin-style", photos, style)).model
    assert model is not None
    assert all(v.dim() == 1 for v in model.state.values())  # one scale or shift row per norm, nothing else
    after = load_multistyle26().state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def _train_through(client: Client, kind: str, name: str, photos: Path, **params) -> str:
    call = client.train(
        kind, name, style=rgb_image(stripes(48, 48)), photos_dir=str(photos), params={**TINY, "steps": 3, **params}
    )
    return call.result().style_id


def test_a_trained_style_is_listed_and_used_without_restart(client: Client, models: Path, photos: Path) -> None:
    assert not {"fast:stripes", "cin:stripes"} & {s.id for s in client.list_styles()}
    fast_id = _train_through(client, "fast", "stripes", photos)
    cin_id = _train_through(client, "cin-style", "stripes", photos)
    assert (fast_id, cin_id) == ("fast:stripes", "cin:stripes")
    listed = {s.id: s for s in client.list_styles()}
    assert listed[fast_id].method == "fast" and listed[cin_id].method == "cin"
    assert listed[fast_id].thumbnail is not None and listed[fast_id].thumbnail.width == 64
    content = rgb_image(scene(40, 56))
    fast = as_array(client.stylize(content, [fast_id], method="fast").result())
    blend = as_array(client.stylize(content, [(cin_id, 0.5), ("cin26:3", 0.5)], method="cin").result())
    alone = as_array(client.stylize(content, ["cin26:3"], method="cin").result())
    assert fast.shape == blend.shape == (40, 56, 3)
    assert np.abs(blend.astype(int) - alone.astype(int)).mean() > 1  # the trained style takes part in the blend


def test_stylize_sent_during_training_starts_within_a_step(client: Client, models: Path, photos: Path) -> None:
    call = client.train("fast", "long", style=rgb_image(stripes(48, 48)), photos_dir=str(photos),
                        params={**TINY, "steps": 60, "checkpoint_every": 100})  # fmt: skip
    steps: list[int] = []
    finished = threading.Event()
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            call.result(lambda e: steps.append(e.step) if e.kind == "progress" else None)
        except BaseException as err:
            errors.append(err)
        finally:
            finished.set()

    threading.Thread(target=follow, daemon=True).start()
    deadline = time.monotonic() + 120
    while len(steps) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(steps) >= 3, "training never started"
    sent_at = steps[-1]
    started_at: list[int] = []
    job = client.stylize(rgb_image(scene(32, 32)), ["cin26:1"], method="cin")
    for event in job:
        if event.kind == "queued" and event.position == 0 and not started_at:
            started_at.append(steps[-1])
    assert started_at and started_at[0] <= sent_at + 2, (sent_at, started_at)
    assert finished.wait(300) and not errors, errors
    assert steps[-1] == 60  # and training went on to the end


def test_cancelling_training_keeps_a_resumable_checkpoint(client: Client, models: Path, photos: Path) -> None:
    call = client.train("cin-style", "cancel-me", style=rgb_image(stripes(48, 48)), photos_dir=str(photos),
                        params={**TINY, "steps": 200})  # fmt: skip
    with pytest.raises(ImpastoError) as stopped:
        for event in call:
            if event.kind == "progress" and event.step >= 2:
                call.cancel()
    assert stopped.value.code == "CANCELLED"
    checkpoint = checkpoint_path("cin-style", "cancel-me")
    deadline = time.monotonic() + 60
    while not checkpoint.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert checkpoint.is_file()
    done = client.train("cin-style", "cancel-me", style=rgb_image(stripes(48, 48)), photos_dir=str(photos),
                        params={**TINY, "steps": 4}, resume=True).result()  # fmt: skip
    assert done.style_id == "cin:cancel-me"


def test_trained_decoders_make_adain_and_swap_decode_in_one_pass(client: Client, models: Path, photos: Path) -> None:
    for kind in ("adain-decoder", "swap-decoder"):
        done = client.train(kind, "", photos_dir=str(photos), params={**TINY, "steps": 2, "size": 64}).result()
        assert done.method == kind.split("-")[0] and done.style_id == ""
    content, style = rgb_image(scene(40, 56)), rgb_image(stripes(48, 48))
    for method in ("adain", "swap"):
        events = list(client.stylize(content, [style], method=method, params={"decoder": "network", "size": 64}))
        totals = {e.total for e in events if e.kind == "progress" and e.stage == "decoding"}
        assert totals and max(totals) <= 2, (method, totals)  # one pass, not an optimisation
        assert as_array(events[-1].image).shape == (40, 56, 3)
    with pytest.raises(ImpastoError, match="models are named 'adain-relu4_1'"):
        client.train("adain-decoder", "mine", photos_dir=str(photos), params=TINY).result()
    with pytest.raises(ImpastoError, match="does not learn from a style picture"):
        client.train("wct-decoders", "", style=style, photos_dir=str(photos), params=TINY).result()


def test_a_trained_decoder_runs_as_it_was_trained(models: Path, photos: Path, style: torch.Tensor) -> None:
    """impasto's decoders take its VGG19's features scaled to unit size; the method must load that scale too."""
    from impasto.networks.decoders import TRAINED_INPUT_RMS, load_trained_decoder
    from impasto.networks.vgg import load_vgg19

    probe = image_to_tensor(read_image(SAMPLES / "coffee.png"))[..., :64, :64]
    result = train(request("wct-decoders", photos, style, steps=3, size=48, layer="relu2_1"), Hooks(probe=probe))
    assert result.model is not None
    decoder = load_trained_decoder(result.model.path, "relu2_1")
    assert decoder.input_scale == pytest.approx(1 / TRAINED_INPUT_RMS["relu2_1"])
    with torch.no_grad():
        decoded = decoder(load_vgg19()(probe, ("relu2_1",))["relu2_1"]).clamp(0, 1)
    thumbnail = result.model.thumbnail.permute(2, 0, 1)[None].float() / 255  # the learner's own rendering
    assert (decoded - thumbnail).abs().max() <= 1 / 255 + 1e-4


def test_a_texture_fills_the_selection_anew_for_each_seed(client: Client, models: Path) -> None:
    done = client.train("texture", "stripes", style=rgb_image(stripes(48, 48)), params={**TINY, "steps": 3}).result()
    assert done.style_id == "texture:stripes" and done.method == "texture"
    content = scene(48, 64)
    mask = np.zeros((48, 64, 1), np.uint8)
    mask[8:40, 16:56] = 255

    def fill(seed: int) -> np.ndarray:
        call = client.stylize(
            rgb_image(content), [done.style_id], method="texture", mask=rgb_image(mask), params={"seed": seed}
        )
        return as_array(call.result())

    first, again, other = fill(0), fill(0), fill(1)
    inside = mask[..., 0] == 255
    assert (first[~inside] == content[~inside]).all()  # outside the selection: bit-identical
    assert np.abs(first[inside].astype(int) - content[inside]).mean() > 10
    assert np.abs(first[inside].astype(int) - other[inside]).mean() > 1  # another seed, another sample
    assert (again == first).all()  # the same seed, the same sample


def test_a_texture_picture_is_synthesised_without_training(client: Client) -> None:
    content = scene(40, 40)
    out = as_array(
        client.stylize(rgb_image(content), [rgb_image(stripes(40, 40))], method="texture",
                       params={"size": 40, "steps": 10, "coarse_steps": 0}).result()
    )  # fmt: skip
    assert out.shape == content.shape
    red = out[..., 0].astype(int)
    assert np.abs(out.astype(int) - content.astype(int)).mean() > 20 and red.std() > 20


def test_published_fast_neural_style_checkpoints_run(client: Client, models: Path) -> None:
    """pytorch/examples' layout, with the stale instance-norm running statistics PyTorch < 0.4 saved."""
    ours = TransformerNet(32).state_dict()
    published = {}
    names = {"contract.0": "conv1|in1", "contract.1": "conv2|in2", "contract.2": "conv3|in3",
             "expand.0": "deconv1|in4", "expand.1": "deconv2|in5", "expand.2": "deconv3|-"}  # fmt: skip
    for key, value in ours.items():
        match = re.fullmatch(r"residual\.(\d)\.conv([12])\.(conv|norm)\.(weight|bias)", key)
        if match:
            block, index, part, leaf = match.groups()
            layer = f"res{int(block) + 1}.{'conv' if part == 'conv' else 'in'}{index}"
        else:
            layer_key, part, leaf = key.rsplit(".", 2)
            conv, norm = names[layer_key].split("|")
            layer = conv if part == "conv" else norm
        published[f"{layer}.conv2d.{leaf}" if "conv" in layer else f"{layer}.{leaf}"] = value
        if layer.startswith("in") or ".in" in layer:
            published[f"{layer}.running_mean"] = torch.zeros_like(value)
            published[f"{layer}.running_var"] = torch.ones_like(value)
    (models / "fast").mkdir(parents=True)
    torch.save(published, models / "fast" / "mosaic.pth")
    assert "fast:mosaic" in {s.id for s in client.list_styles()}
    out = as_array(client.stylize(rgb_image(scene(40, 40)), ["fast:mosaic"], method="fast").result())
    assert out.shape == (40, 40, 3)


def test_checkpoints_that_would_run_code_are_refused(client: Client, models: Path) -> None:
    (models / "fast").mkdir(parents=True)
    torch.save({"weights": torch.zeros(2), "module": threading.Event}, models / "fast" / "evil.pth")
    assert "fast:evil" not in {s.id for s in client.list_styles()}
    with pytest.raises(ImpastoError) as err:
        client.stylize(rgb_image(scene(32, 32)), ["fast:evil"], method="fast").result()
    assert err.value.code == "NOT_FOUND"  # not a style the daemon lists
    from impasto.runtime.trained import load_model

    with pytest.raises(InvalidInput, match="not a readable impasto file"):
        load_model(models / "fast" / "evil.pth", "fast")


@pytest.mark.parametrize(
    ("change", "error", "needle"),
    [
        ({"name": "../x"}, InvalidInput, "not a usable model name"),
        ({"name": "a/b"}, InvalidInput, "not a usable model name"),
        ({"style": None}, InvalidInput, "learns from a style picture"),
        ({"settings": {"steps": 0}}, InvalidInput, "'steps' must be at least 1"),
        ({"settings": {"size": 5000}}, InvalidInput, "'size' must be at most 2048"),
        ({"settings": {"batch": 1000}}, InvalidInput, "'batch' must be at most 64"),
        ({"settings": {"width": "double"}}, InvalidInput, "'width' must be one of"),
        ({"settings": {"steps": float("inf")}}, InvalidInput, "'steps' must be a finite number"),
        ({"settings": {"steps": "inf"}}, InvalidInput, "'steps' must be a finite number"),
        ({"settings": {"learning_rate": float("nan")}}, InvalidInput, "'learning_rate' must be a finite number"),
        ({"settings": {"style_weight": float("-inf")}}, InvalidInput, "'style_weight' must be a finite number"),
        ({"resume": True}, NotFound, "no checkpoint"),
        ({"settings": {"size": 2048, "batch": 64}}, ResourceExhausted, "lower size or batch"),
    ],
)
def test_bad_requests_are_refused(change, error, needle, models: Path, photos: Path, style: torch.Tensor) -> None:
    fields = {**vars(request("fast", photos, style)), **change}
    if "settings" in change:
        fields["settings"] = {**TINY, **change["settings"]}
    with pytest.raises(error, match=re.escape(needle)):
        train(TrainRequest(**fields))


def test_a_folder_without_pictures_is_refused(models: Path, tmp_path: Path, style: torch.Tensor) -> None:
    empty = tmp_path / "no-photos"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a picture")
    (empty / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InvalidInput, match="none of the 1 files is a readable picture"):
        train(request("fast", empty, style))


def test_an_existing_name_is_kept_unless_overwritten(models: Path, photos: Path, style: torch.Tensor) -> None:
    first = train(request("cin-style", photos, style, steps=2)).model
    assert first is not None
    before = first.path.read_bytes()
    with pytest.raises(InvalidInput, match="exists"):
        train(request("cin-style", photos, style, steps=2))
    assert first.path.read_bytes() == before
    again = train(TrainRequest(**{**vars(request("cin-style", photos, style, steps=2, seed=1)), "overwrite": True}))
    assert again.model is not None and again.model.path.read_bytes() != before


def test_a_corrupt_or_foreign_checkpoint_is_refused_and_kept(models: Path, photos: Path, style: torch.Tensor) -> None:
    stopped = train(request("cin-style", photos, style), Hooks(stop_requested=lambda: True))
    checkpoint = stopped.checkpoint
    resume = TrainRequest(**{**vars(request("cin-style", photos, style)), "resume": True})
    with pytest.raises(InvalidInput, match="size=32"):
        train(TrainRequest(**{**vars(resume), "settings": {**TINY, "size": 64}}))
    with pytest.raises(InvalidInput, match="not the style picture"):
        train(TrainRequest(**{**vars(resume), "style_key": "another"}))
    fewer = checkpoint.parent / "fewer-photos"
    fewer.mkdir()
    shutil.copy(photos / "chelsea.png", fewer)
    with pytest.raises(InvalidInput, match="other photos"):
        train(TrainRequest(**{**vars(resume), "photos": fewer}))
    payload = torch.load(checkpoint, weights_only=True)
    torch.save({**payload, "model": {"contract.0.norm.gamma": torch.zeros(3)}}, checkpoint)
    with pytest.raises(InvalidInput, match="does not fit"):
        train(resume)
    torch.save({"format": "something-else"}, checkpoint)
    with pytest.raises(InvalidInput, match="not an impasto training checkpoint"):
        train(resume)
    checkpoint.write_bytes(b"\x00garbage")
    with pytest.raises(InvalidInput, match="not a readable impasto file"):
        train(resume)
    assert checkpoint.read_bytes() == b"\x00garbage"  # nothing overwritten


def _impasto(*args: str, env: dict | None = None, setup: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(_command(*args, setup=setup), capture_output=True, text=True, timeout=300, env=env)


def _command(*args: str, setup: str = "") -> list[str]:
    """`python -m impasto ARGS`, running the Python statements `setup` in the child first. Not preexec_fn: Python
    code between fork and exec runs this process's fork handlers, and grpc's (this process serves the test daemon)
    once killed such a child by SIGABRT ("epoll_wait error: Bad file descriptor") before it reached exec."""
    if not setup:
        return [sys.executable, "-m", "impasto", *args]
    start = f"import resource, runpy, signal, sys; {setup}; sys.argv[0] = 'impasto'; "
    start += "runpy.run_module('impasto', run_name='__main__')"
    return [sys.executable, "-c", start, *args]


def test_the_cli_trains_and_refuses_clearly(tmp_path: Path, photos: Path) -> None:
    models = tmp_path / "models"
    common = ["--photos", str(photos), "--models-dir", str(models), "--size", "32", "--batch", "1"]
    done = _impasto("train", "fast", "--name", "cli", "--style", str(SAMPLES / "mosaic.png"), "--steps", "2", *common)
    assert done.returncode == 0, done.stderr
    assert "trained fast:cli" in done.stderr and (models / "fast" / "cli.pt").is_file()
    for args, needle in [
        (["train", "fast", "--name", "cli", "--style", str(SAMPLES / "mosaic.png"), *common], "exists"),
        (["train", "nonsense", "--name", "x", *common], "cannot train 'nonsense'"),
        (["train", "fast", "--name", "x", "--style", str(tmp_path / "missing.png"), *common], "no such file"),
        (["train", "fast", "--name", "../x", "--style", str(SAMPLES / "mosaic.png"), *common], "usable model name"),
        (["train", "fast", "--name", "x", *common], "learns from a style picture"),
    ]:
        bad = _impasto(*args)
        assert bad.returncode == 2, (args, bad.stderr)
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("impasto: ") and needle in lines[0], (args, bad.stderr)


def test_ctrl_c_stops_after_the_step_and_keeps_a_checkpoint(tmp_path: Path, photos: Path) -> None:
    models = tmp_path / "models"
    proc = subprocess.Popen(
        _command("train", "cin-style", "--name", "interrupted", "--style", str(SAMPLES / "swirls.png"), "--photos",
                 str(photos), "--models-dir", str(models), "--size", "32", "--batch", "1", "--steps", "500",
                 # As from a terminal: a run started in the background of a script (as CI may be) inherits SIGINT
                 # ignored, and Python then leaves it so.
                 setup="signal.signal(signal.SIGINT, signal.default_int_handler)"),
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if "step " in line:
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest
    assert "--resume" in rest
    assert (models / "checkpoints" / "cin-style-interrupted.ckpt").is_file()


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path: Path, photos: Path) -> None:
    models = tmp_path / "models"
    args = ["train", "cin-style", "--name", "full", "--style", str(SAMPLES / "swirls.png"), "--photos", str(photos),
            "--models-dir", str(models), "--size", "32", "--batch", "1"]  # fmt: skip
    stopped = _impasto(*args, "--steps", "2")
    assert stopped.returncode == 0, stopped.stderr
    checkpoint = models / "checkpoints" / "cin-style-full.ckpt"
    before = checkpoint.read_bytes()

    # The child can write no file past 1 KB, as on a full disk.
    small_files = (
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))"
    )
    full = _impasto(*args, "--steps", "4", "--resume", env=dict(os.environ), setup=small_files)
    assert full.returncode == 2, full.stderr
    assert "full" in full.stderr.strip().splitlines()[-1]
    assert checkpoint.read_bytes() == before
