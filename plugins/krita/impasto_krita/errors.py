"""The one exception the plugin raises to scripts and shows to painters."""

from __future__ import annotations


class StylizeError(RuntimeError):
    """Stylizing failed and the document was left unchanged; `code` is short and stable
    (a gRPC status name such as "UNAVAILABLE", or "NO_SELECTION", "UNSUPPORTED_COLOR_SPACE", …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
