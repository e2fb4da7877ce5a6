"""Errors a request can end with: each carries the gRPC status it maps to and a sentence for the user."""

from __future__ import annotations

import grpc


class RequestError(Exception):
    status: grpc.StatusCode = grpc.StatusCode.INTERNAL


class InvalidInput(RequestError, ValueError):
    status = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(RequestError, LookupError):
    status = grpc.StatusCode.NOT_FOUND


class ResourceExhausted(RequestError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(RequestError):
    status = grpc.StatusCode.FAILED_PRECONDITION
