"""The registry of style-transfer methods the daemon offers."""

from __future__ import annotations

from .arbitrary import Arbitrary
from .base import Method
from .cin import Cin
from .gatys import Gatys

METHODS: dict[str, Method] = {m.name: m for m in (Gatys(), Cin(), Arbitrary())}
