"""`precision: auto` follows a measurement on this device, not the processor's claim of native bfloat16."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from impasto.runtime import precision

CPU = torch.device("cpu")


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    precision.auto_choice.cache_clear()
    yield tmp_path / "impasto" / "precision.json"
    precision.auto_choice.cache_clear()


@pytest.mark.parametrize("measured", ["float32", "bfloat16"])
def test_auto_is_what_was_measured_on_this_device(fresh_cache: Path, measured: str) -> None:
    """Whatever oneDNN claims, a measurement recorded for this processor decides (an Intel Xeon with AVX-512 BF16
    and no AMX claims native bfloat16 and runs VGG19 1.3x slower in it)."""
    fresh_cache.parent.mkdir(parents=True)
    entry = {"dtype": measured, "reason": "measured: test", "device_model": precision.device_model(CPU)}
    fresh_cache.write_text(json.dumps({precision._key(CPU): entry}))
    assert precision.resolve("auto", CPU) == getattr(torch, measured)
    assert precision.resolve("float32", CPU) == torch.float32 and precision.resolve("bfloat16", CPU) == torch.bfloat16


def test_a_measurement_picks_the_faster_type_and_is_kept(fresh_cache: Path) -> None:
    choice = precision.measured_choice(CPU, pairs=1)
    speedup = float(choice.reason.split("bfloat16 ")[1].split("x")[0])
    assert choice.dtype == ("bfloat16" if speedup >= precision.MIN_SPEEDUP else "float32")
    # Kept on disk per processor model and torch version: the next start reads it instead of measuring.
    assert json.loads(fresh_cache.read_text())[precision._key(CPU)]["dtype"] == choice.dtype
    assert precision.auto_choice(CPU) == choice


def test_without_a_measurement_emulated_bfloat16_is_never_chosen(fresh_cache: Path) -> None:
    choice = precision.auto_choice(CPU)
    if precision.native_bfloat16("cpu"):
        assert choice.reason.startswith("measured: bfloat16") and fresh_cache.is_file()
    else:
        assert choice == precision.Choice("float32", "no native bfloat16 on this device", precision.device_model(CPU))
        assert not fresh_cache.exists()
