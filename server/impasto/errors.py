"""Errors a request can end with: each names the gRPC status it maps to and carries a sentence for the user.

The status is a name, not a grpc.StatusCode, so the lower wings (numerics, networks, losses) that raise
these stay free of gRPC; serving maps the name to the code.
"""

from __future__ import annotations


class RequestError(Exception):
    status: str = "INTERNAL"


class InvalidInput(RequestError, ValueError):
    status = "INVALID_ARGUMENT"


class NotFound(RequestError, LookupError):
    status = "NOT_FOUND"


class ResourceExhausted(RequestError):
    status = "RESOURCE_EXHAUSTED"
