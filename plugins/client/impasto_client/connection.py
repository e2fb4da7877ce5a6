"""How a client reaches a daemon: its address, TLS trust, a bearer token, and a session key for load balancers.

Every call carries the token (as `authorization: Bearer …`) and the client's session key (`x-impasto-session`),
so a daemon behind TLS checks who calls, and a gRPC load balancer (nginx's `hash $http_x_impasto_session`) sends
all of one client's uploads, jobs and downloads to the same daemon.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

DEFAULT_ADDRESS = "127.0.0.1:50051"
SESSION_HEADER = "x-impasto-session"


@dataclass(frozen=True)
class Connection:
    address: str = DEFAULT_ADDRESS
    token: str = ""
    # TLS: on with the system's trusted roots, or with this CA (PEM) for a self-signed daemon.
    tls: bool = False
    ca: bytes | None = None
    session: str = field(default_factory=lambda: secrets.token_hex(8))

    @classmethod
    def from_files(
        cls, address: str, token_file: str | Path | None = None, tls_ca: str | Path | None = None, tls: bool = False
    ) -> Connection:
        """A connection whose token and CA come from files (as the CLI and the editors' settings name them)."""
        token = read_token(token_file) if token_file else ""
        ca = _read(tls_ca, "the CA certificate") if tls_ca else None
        return cls(address, token, tls or ca is not None, ca)

    def channel(self) -> grpc.Channel:
        if self.tls:
            channel = grpc.secure_channel(self.address, grpc.ssl_channel_credentials(root_certificates=self.ca))
        else:
            channel = grpc.insecure_channel(self.address)
        metadata = [(SESSION_HEADER, self.session)]
        if self.token:
            metadata.append(("authorization", f"Bearer {self.token}"))
        return grpc.intercept_channel(channel, _Metadata(tuple(metadata)))

    def describe(self) -> str:
        return f"{self.address}{' over TLS' if self.tls else ''}{' with a token' if self.token else ''}"


def read_token(path: str | Path) -> str:
    token = _read(path, "the token").decode("utf-8", "replace").strip()
    if not token:
        raise ValueError(f"the token file {path} is empty; make one with 'impasto token new'")
    return token


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read {what} from {path}: {err.strerror or err}") from None


class _Details(grpc.ClientCallDetails):
    def __init__(self, details: grpc.ClientCallDetails, metadata: list[tuple[str, str]]) -> None:
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


class _Metadata(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds the token and the session key to every call."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.metadata = metadata

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _Details(details, [*(details.metadata or ()), *self.metadata])

    def intercept_unary_unary(self, continuation: Callable, details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Callable, details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Callable, details: grpc.ClientCallDetails, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Callable, details: grpc.ClientCallDetails, requests: Any) -> Any:
        return continuation(self._details(details), requests)
