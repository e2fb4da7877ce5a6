"""Content-addressed image store: uploads, results and previews live here by SHA-256, within a byte budget."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

from impasto_client.images import Image

from ..errors import InvalidInput, NotFound, ResourceExhausted

# An image's ref: the SHA-256 of its header line and bytes, as the client computes it (images.image_sha256).
REF = re.compile(r"[0-9a-f]{64}")


class ImageStore:
    """Least recently used images are dropped when the budget is exceeded; clients re-upload by ref."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._images: OrderedDict[str, Image] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def check_fits(self, size: int, what: str = "the image") -> None:
        if size > self.budget_bytes:
            raise ResourceExhausted(
                f"{what} needs {size / 2**20:.0f} MiB but the daemon keeps at most "
                f"{self.budget_bytes / 2**20:.0f} MiB of images; start it with a larger --store-mb"
            )

    def put(self, image: Image) -> str:
        self.check_fits(len(image.data))
        sha = image.sha256
        with self._lock:
            if sha in self._images:
                self._images.move_to_end(sha)
                return sha
            self._images[sha] = image
            self._bytes += len(image.data)
            while self._bytes > self.budget_bytes and len(self._images) > 1:
                _, dropped = self._images.popitem(last=False)
                self._bytes -= len(dropped.data)
        return sha

    def get(self, sha: str, field: str = "image") -> Image:
        if not sha:
            raise InvalidInput(f"{field}: no image ref given; upload the image with PutImage and send its ref")
        if not REF.fullmatch(sha):
            raise InvalidInput(f"{field}: {sha[:80]!r} is not an image ref; a ref is 64 lowercase hex digits")
        with self._lock:
            image = self._images.get(sha)
            if image is not None:
                self._images.move_to_end(sha)
        if image is None:
            raise NotFound(f"{field}: the daemon holds no image {sha[:16]}…; upload it first")
        return image
