"""Build step only (everything else is in pyproject.toml): the wheel carries what impasto ships beside its code.

The editor plugins, the .proto contract and the models folder (manifest, shipped models, their records) are copied
into impasto/bundled/ of the built package, so `pip install impasto` then `impasto install-plugin krita` works with no
checkout (runtime/bundled.py finds them there, or in the checkout an editable install runs from).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = ("plugins/krita", "plugins/gimp", "protos", "models")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "checkpoints")


class BuildWithBundled(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "impasto" / "bundled"
        shutil.rmtree(target, ignore_errors=True)
        for relative in BUNDLED:
            shutil.copytree(ROOT / relative, target / relative, ignore=SKIP)


setup(cmdclass={"build_py": BuildWithBundled})
