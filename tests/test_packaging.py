"""Installed like a painter installs it: from a wheel (built from the sdist), into a fresh environment, no checkout.

The wheel must carry the editor plugins, the .proto and the models folder (setup.py bundles them), and everything
that uses them must find them inside the installed package: `impasto install-plugin krita|gimp`, the manifest and
the shipped models, in a virtual environment and in a `pip install --user` (whose data files land elsewhere than its
code). The fresh environment borrows this one's dependencies (torch and the rest) through a plain path, which does
not bring this environment's editable install of impasto along.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SITE = sysconfig.get_paths()["purelib"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        cwd=tmp_path_factory.mktemp("build"),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    yield next(out.glob("impasto-*.whl")), next(out.glob("impasto-*.tar.gz"))


def shipped_model_paths() -> list[str]:
    import tomllib

    models = tomllib.loads((REPO / "models" / "manifest.toml").read_text())["models"]
    return [entry["path"] for entry in models.values() if entry["package"] == "impasto"]


def test_the_wheel_and_sdist_carry_plugins_contract_and_models(dist: tuple[Path, Path]) -> None:
    wheel, sdist = dist
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = [
        "plugins/krita/impasto_krita.desktop",
        "plugins/krita/impasto_krita/__init__.py",
        "plugins/gimp/impasto_gimp/impasto_gimp.py",
        "protos/impasto/v1/impasto.proto",
        "models/manifest.toml",
        *(f"models/{path}" for path in shipped_model_paths()),
    ]
    for path in wanted:
        assert f"impasto/bundled/{path}" in names, path
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for path in wanted:
        assert path in members, path


def fresh_venv(root: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "borrowed-dependencies.pth").write_text(SITE + "\n")
    return python


def test_a_wheel_installs_both_plugins_without_a_checkout(dist: tuple[Path, Path], tmp_path: Path) -> None:
    wheel, _ = dist
    python = fresh_venv(tmp_path / "venv")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    env = {**os.environ, "HOME": str(tmp_path / "home"), "IMPASTO_MODELS_DIR": str(tmp_path / "models")}
    env.pop("PYTHONPATH", None)
    where = subprocess.run(
        [str(python), "-c", "import impasto, impasto.runtime.bundled as b; print(impasto.__file__); "
         "print(b.bundled('plugins/krita'))"],
        capture_output=True, text=True, check=True, env=env, cwd=tmp_path,
    ).stdout.split()  # fmt: skip
    assert all(str(tmp_path / "venv") in path for path in where), where
    impasto = tmp_path / "venv" / "bin" / "impasto"
    for editor, version, folder, entry in (
        ("krita", "3.11", "pykrita", "impasto_krita/__init__.py"),
        ("gimp", "3.13", "plug-ins", "impasto_gimp/impasto_gimp.py"),
    ):
        dest = tmp_path / folder
        done = subprocess.run(
            [str(impasto), "install-plugin", editor, "--dest", str(dest), "--python-version", version,
             "--platform", "linux"],
            capture_output=True, text=True, env=env, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert (dest / entry).is_file() and (dest / entry.split("/")[0] / "vendor" / "grpc").is_dir()
    assert (tmp_path / "pykrita" / "impasto_krita.desktop").is_file()
    styles = subprocess.run(
        [str(impasto), "styles", "--json"], capture_output=True, text=True, env=env, cwd=tmp_path, check=True
    )
    ids = {style["id"] for style in json.loads(styles.stdout)}
    assert {f"cin:{Path(p).stem}" for p in shipped_model_paths() if p.startswith("cin/")} <= ids


def test_a_user_install_finds_its_manifest_and_models(dist: tuple[Path, Path], tmp_path: Path) -> None:
    wheel, _ = dist
    base = getattr(sys, "_base_executable", sys.executable)
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "PYTHONUSERBASE": str(tmp_path / "userbase"),
        "PYTHONPATH": SITE,  # the dependencies, without this environment's editable impasto
        "PIP_BREAK_SYSTEM_PACKAGES": "1",
    }
    subprocess.run(
        [base, "-m", "pip", "install", "-q", "--user", "--no-deps", "--no-index", str(wheel)], check=True, env=env
    )
    check = (
        "import impasto\n"
        "from impasto.runtime.weights import manifest, manifest_path\n"
        "from impasto.runtime.trained import locate\n"
        "assert manifest_path().is_file(), manifest_path()\n"
        "assert 'userbase' in impasto.__file__, impasto.__file__\n"
        "shipped = [e.path for e in manifest().values() if e.package == 'impasto']\n"
        "missing = [path for path in shipped if locate(*path.removesuffix('.pt').split('/')) is None]\n"
        "assert not missing, missing\n"
        "print('ok')\n"
    )
    done = subprocess.run([base, "-c", check], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.stdout.strip() == "ok", done.stderr


def test_the_editors_python_is_read_from_their_files() -> None:
    """Debian's Krita 5.1 links libpython3.11; GIMP 3 in the trixie chroot runs plug-ins with python3 -> 3.13."""
    from impasto.install.editor_python import detect

    from .conftest import require_tool

    require_tool("krita")
    found = detect("krita", "linux")
    assert found is not None and found.version == "3.11", found
    chroot = Path(os.environ.get("IMPASTO_GIMP_CHROOT", "/tmp/impasto-trixie"))
    if (chroot / "usr" / "bin" / "python3").exists():
        gimp = detect("gimp", "linux", chroot)
        assert gimp is not None and gimp.version == "3.13", gimp
    assert detect("krita", "linux", Path("/nonexistent")) is None
