"""The registry of style-transfer methods the daemon offers."""

from __future__ import annotations

from .adain import AdaIN
from .analogy import Analogy
from .arbitrary import Arbitrary
from .base import Method
from .cin import Cin
from .doodle import Doodle
from .gatys import Gatys
from .mrf import MRF
from .photo import Photo
from .swap import Swap
from .wct import WCT

METHODS: dict[str, Method] = {
    m.name: m for m in (Gatys(), Photo(), Cin(), Arbitrary(), AdaIN(), WCT(), Swap(), MRF(), Doodle(), Analogy())
}
