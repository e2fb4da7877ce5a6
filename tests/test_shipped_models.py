"""The models impasto trained and ships: each in the manifest with its SHA-256, matching, listed and usable; a
shipped file that does not match its SHA-256 is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from impasto.networks.decoders import LEVELS, TRAINED_KIND
from impasto.runtime import trained
from impasto.runtime.weights import WeightsError, manifest, sha256_file
from impasto_client import Client

from .conftest import as_array, rgb_image, scene

SHIPPED = [e for e in manifest().values() if e.package == trained.SHIPPED_PACKAGE]


def test_models_ship() -> None:
    assert SHIPPED, "the manifest lists no model trained by impasto"


def test_the_shipped_weights_fit_the_wheel_budget() -> None:
    """Every model impasto ships rides in the wheel: together at most 40 MB (the training issue's budget)."""
    total = sum((trained.shipped_dir() / e.path).stat().st_size for e in SHIPPED)
    assert total <= 40_000_000, f"{total / 1e6:.1f} MB of shipped weights"


STYLES = [e for e in SHIPPED if Path(e.path).parent.as_posix() != TRAINED_KIND]
DECODERS = [e for e in SHIPPED if Path(e.path).parent.as_posix() == TRAINED_KIND]
# What makes each method decode with nothing but the shipped decoder at its level (`network` refuses otherwise).
ONLY_LEVEL = {
    "wct": lambda level: {"level_alpha": ",".join(f"{other}:{1 if other == level else 0}" for other in LEVELS)},
    "swap": lambda level: {"layer": level},
    "adain": lambda level: {},
}


@pytest.mark.parametrize("entry", SHIPPED, ids=lambda e: e.id)
def test_each_shipped_model_matches_its_sha256(entry) -> None:
    assert sha256_file(trained.shipped_dir() / entry.path) == entry.sha256


# The methods each kind of decoder serves: style swap decodes with a WCT reconstruction decoder when it has no
# inverse network of its own.
SERVES = {"wct": ("wct", "swap"), "swap": ("swap",), "adain": ("adain",)}


@pytest.mark.parametrize("entry", DECODERS, ids=lambda e: e.id)
def test_each_shipped_decoder_decodes_in_one_pass(entry, client: Client) -> None:
    level = Path(entry.path).stem.split("-", 1)[1]
    content, style = rgb_image(scene(40, 56)), rgb_image(scene(40, 40, seed=3))
    for method in SERVES[entry.method]:
        params = {"size": 48, "decoder": "network", **ONLY_LEVEL[method](level)}
        stages: list[str] = []
        out = client.stylize(content, [style], method=method, params=params)
        result = as_array(out.result(lambda e, stages=stages: stages.append(e.stage) if e.kind == "progress" else None))
        assert result.shape == (40, 56, 3)
        assert not any(stage.startswith(("optimising", "inverting")) for stage in stages), (method, stages)


@pytest.mark.parametrize("entry", STYLES, ids=lambda e: e.id)
def test_each_shipped_style_is_listed_and_runs(entry, client: Client) -> None:
    kind, name = Path(entry.path).parent.as_posix(), Path(entry.path).stem
    style_id = f"{kind}:{name}"
    assert style_id in {s.id for s in client.list_styles()}
    out = as_array(client.stylize(rgb_image(scene(40, 56)), [style_id], method=entry.method).result())
    assert out.shape == (40, 56, 3)


def test_a_shipped_file_that_does_not_match_is_refused(tmp_path: Path) -> None:
    entry = SHIPPED[0]
    copy = tmp_path / "models"
    shutil.copytree(trained.shipped_dir(), copy)
    trained.verify_shipped(copy / entry.path, copy)  # an intact copy passes
    (copy / entry.path).write_bytes((copy / entry.path).read_bytes() + b"tampered")
    with pytest.raises(WeightsError, match="SHA-256"):
        trained.verify_shipped(copy / entry.path, copy)
    unlisted = (copy / entry.path).with_name("unlisted.pt")
    unlisted.write_bytes((copy / entry.path).read_bytes())
    with pytest.raises(WeightsError, match="no SHA-256"):
        trained.verify_shipped(unlisted, copy)
