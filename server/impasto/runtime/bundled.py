"""Where the files impasto ships beside its code live: the editor plugins, the .proto contract, the models folder.

An installed wheel carries them inside the package (impasto/bundled/, put there by setup.py's build step); an
editable install or a checkout runs from the repository, where they are at the top. Found through the package
itself, never through an install prefix: a `pip install --user` puts data files elsewhere than the code.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[3]


def bundled(relative: str) -> Path:
    """`relative` (e.g. "plugins/krita", "models/manifest.toml") in the installed package, else in the checkout."""
    inside = Path(str(resources.files("impasto").joinpath("bundled", *relative.split("/"))))
    return inside if inside.exists() else _CHECKOUT / relative
