"""Every way an RPC can end, as a gRPC status with a sentence: no exception reaches a client as UNKNOWN.

Handlers raise RequestErrors (InvalidInput, NotFound, ResourceExhausted) for what the client should fix; the
interceptor here turns those, running out of memory, and anything unexpected (INTERNAL, traceback logged) into
statuses, for unary and streaming handlers alike, whether the error comes before the first response or after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import grpc
import torch

from ..errors import RequestError

log = logging.getLogger("impasto.service")


def abort_for(context: grpc.ServicerContext, err: BaseException, job: int | None = None) -> NoReturn:
    """Ends the RPC with the status `err` stands for (logging the traceback when it is not the client's error)."""
    if isinstance(err, RequestError):
        context.abort(grpc.StatusCode[err.status], str(err))
    if isinstance(err, (MemoryError, torch.OutOfMemoryError)):
        context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "the image does not fit in memory; lower 'size' or select a smaller area",
        )
    log.error("request failed", exc_info=err, extra={"job": job})
    first_line = " ".join(str(err).split())[:300]
    context.abort(grpc.StatusCode.INTERNAL, f"the daemon failed: {type(err).__name__}: {first_line}")


def _ended(context: grpc.ServicerContext, err: Exception) -> bool:
    """Whether the RPC already has its status: context.abort() raises a bare Exception after setting the code, and a
    request stream raises grpc.RpcError once the client has cancelled (grpc knows both and stays quiet)."""
    return context.code() is not None or isinstance(err, grpc.RpcError)


def _guard_unary(behavior: Callable) -> Callable:
    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return behavior(request, context)
        except Exception as err:
            if _ended(context, err):
                raise
            abort_for(context, err)

    return handler


def _guard_stream(behavior: Callable) -> Callable:
    def handler(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from behavior(request, context)
        except Exception as err:
            if _ended(context, err):
                raise
            abort_for(context, err)

    return handler


class StatusInterceptor(grpc.ServerInterceptor):
    """Wraps every handler of the services it guards so that each failure ends as a proper status."""

    def intercept_service(self, continuation: Callable, handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        if handler.unary_unary:
            return handler._replace(unary_unary=_guard_unary(handler.unary_unary))
        if handler.stream_unary:
            return handler._replace(stream_unary=_guard_unary(handler.stream_unary))
        if handler.unary_stream:
            return handler._replace(unary_stream=_guard_stream(handler.unary_stream))
        return handler._replace(stream_stream=_guard_stream(handler.stream_stream))
