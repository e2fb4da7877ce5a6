"""The one thin client of the impasto daemon, shared by the CLI and the editor plugins.

Pure Python on grpcio and protobuf: no torch, no numpy, so it runs inside the
Python that Krita and GIMP embed.
"""

from .client import DEFAULT_ADDRESS, Client, ImpastoError, StylizeEvent, TrainEvent
from .connection import Connection
from .images import Image, Layout, SampleType, image_sha256

__all__ = [
    "DEFAULT_ADDRESS",
    "Client",
    "Connection",
    "Image",
    "ImpastoError",
    "Layout",
    "SampleType",
    "StylizeEvent",
    "TrainEvent",
    "image_sha256",
]
