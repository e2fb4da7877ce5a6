"""The bundled sample pictures: photos for the demo and thumbnails, style pictures (licences in README.md)."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).parent
