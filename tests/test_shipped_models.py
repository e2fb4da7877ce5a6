"""The models impasto trained and ships: each in the manifest with its SHA-256, matching, listed and usable; a
shipped file that does not match its SHA-256 is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from impasto.runtime import trained
from impasto.runtime.weights import WeightsError, manifest, sha256_file
from impasto_client import Client

from .conftest import as_array, rgb_image, scene

SHIPPED = [e for e in manifest().values() if e.package == trained.SHIPPED_PACKAGE]


def test_models_ship() -> None:
    assert SHIPPED, "the manifest lists no model trained by impasto"


@pytest.mark.parametrize("entry", SHIPPED, ids=lambda e: e.id)
def test_each_shipped_model_matches_its_sha256_and_runs(entry, client: Client) -> None:
    path = trained.shipped_dir() / entry.path
    assert sha256_file(path) == entry.sha256
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
