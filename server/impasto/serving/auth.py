"""Bearer-token authentication: a daemon reachable from other machines answers only those who hold its token.

Every call must carry `authorization: Bearer <token>` except the health service's, so standard tools and load
balancers can check the daemon without the secret. Tokens are compared in constant time, and the token itself is
never logged (the log says only whether one was missing or wrong).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

log = logging.getLogger("impasto.auth")
OPEN_SERVICES = ("/grpc.health.v1.Health/",)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def write_token(path: Path) -> None:
    """A new token in `path`, readable by its owner only (mode 0600 from the start, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as f:
        f.write(new_token() + "\n")
    path.chmod(0o600)


def _refuse_stream(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that refuses the call before reading or sending anything."""

    def refuse(request: Any, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(refuse, handler.request_deserializer, handler.response_serializer)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(refuse, handler.request_deserializer, handler.response_serializer)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(refuse, handler.request_deserializer, handler.response_serializer)
    return grpc.stream_stream_rpc_method_handler(refuse, handler.request_deserializer, handler.response_serializer)


class TokenInterceptor(grpc.ServerInterceptor):
    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or details.method.startswith(OPEN_SERVICES):
            return handler
        given = next((value for key, value in details.invocation_metadata or () if key == "authorization"), None)
        if given is None:
            log.warning("call without a token refused", extra={"method": details.method})
            return _refuse_stream(
                handler,
                "this impasto daemon needs its token: give the token file (impasto --token-file, or the token in "
                "the plugin's settings)",
            )
        if not hmac.compare_digest(given.encode() if isinstance(given, str) else given, self._expected):
            log.warning("call with a wrong token refused", extra={"method": details.method})
            return _refuse_stream(
                handler,
                "this impasto daemon does not accept that token: use the token file the daemon was started with",
            )
        return handler
