"""The daemon: a gRPC server with the style-transfer service, health, reflection and clean shutdown."""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import torch
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from impasto_client.v1 import impasto_pb2 as pb
from impasto_client.v1 import impasto_pb2_grpc as pb_grpc

from ..methods.registry import load_methods
from ..runtime import precision
from ..runtime.allocator import keep_freed_memory
from .auth import TokenInterceptor
from .jobs import JobQueue
from .reflection import enable_reflection
from .service import StyleTransferService
from .statuses import StatusInterceptor
from .store import ImageStore
from .transfers import Transfers

log = logging.getLogger("impasto.daemon")
# Threads beyond the queue's and the transfers' caps: health checks, listings and other quick calls.
QUICK_CALL_THREADS = 8
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["StyleTransfer"].full_name


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 50051
    device: str = "auto"
    max_jobs: int = 1
    max_queue: int = 16
    store_mb: int = 4096
    models_dir: Path | None = None
    allow_remote: bool = False
    # A daemon reachable from other machines: TLS (certificate chain and key, PEM) and a bearer token file.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    token_file: Path | None = None
    insecure: bool = False  # listen beyond loopback without TLS and a token (refused otherwise)
    max_transfers: int = 8  # uploads and downloads at once
    idle_seconds: float = 30.0  # a transfer that moves no chunk for this long is cancelled


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA GPU is available to this PyTorch")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("--device mps: Apple's Metal backend is not available")
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device must be auto, cpu, cuda or mps, not {name!r}")
    return torch.device(name)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _port_free(host: str, port: int) -> bool:
    """Whether a listener could bind host:port now (asked before grpc, which would print its own error first)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpc does: TIME_WAIT does not count
        try:
            probe.bind((host.strip("[]"), port))
        except OSError:
            return False
    return True


def _read_secret(path: Path, what: str) -> bytes:
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read {what} {path}: {err.strerror or err}") from None
    if not data.strip():
        raise ValueError(f"{what} {path} is empty")
    return data


def _security(config: Config) -> tuple[grpc.ServerCredentials | None, str]:
    """The TLS credentials and the token the daemon requires, after checking the combination is safe.

    Beyond loopback both are needed: without TLS the token would cross the network in the clear, and without a
    token anyone who can reach the port could use the machine. `insecure` overrides that, with a warning.
    """
    if bool(config.tls_cert) != bool(config.tls_key):
        raise ValueError("TLS needs both --tls-cert and --tls-key")
    credentials = None
    if config.tls_cert and config.tls_key:
        key = _read_secret(config.tls_key, "the TLS key")
        chain = _read_secret(config.tls_cert, "the TLS certificate")
        if b"PRIVATE KEY" not in key or b"CERTIFICATE" not in chain:
            raise ValueError("--tls-key and --tls-cert must be PEM files: a private key and a certificate chain")
        credentials = grpc.ssl_server_credentials([(key, chain)])
    token = ""
    if config.token_file:
        token = _read_secret(config.token_file, "the token file").decode("utf-8", "replace").strip()
    if not is_loopback(config.host):
        if not config.allow_remote and not (credentials and token):
            raise ValueError(
                f"refusing to listen on {config.host}: other machines may reach it, so give it TLS and a token "
                f"(--tls-cert, --tls-key, --token-file; 'impasto token new' makes one), or pass --allow-remote "
                f"--insecure to do without"
            )
        if not (credentials and token):
            if not config.insecure:
                raise ValueError(
                    f"refusing to listen on {config.host} without TLS and a token: anyone who reaches the port could "
                    f"use this machine; give --tls-cert, --tls-key and --token-file, or add --insecure to accept that"
                )
            log.warning(
                "listening beyond loopback without TLS and a token: anyone who reaches the port can use this daemon",
                extra={"host": config.host},
            )
    return credentials, token


class Daemon:
    def __init__(self, config: Config) -> None:
        credentials, token = _security(config)
        if config.models_dir is not None:
            import os

            os.environ["IMPASTO_MODELS_DIR"] = str(config.models_dir)
        self.config = config
        self.device = pick_device(config.device)
        if self.device.type == "cpu":
            keep_freed_memory()
        self.jobs = JobQueue(workers=config.max_jobs, capacity=config.max_queue)
        self.store = ImageStore(config.store_mb << 20)
        self.transfers = Transfers(config.max_transfers, config.idle_seconds)
        self.service = StyleTransferService(self.store, self.jobs, self.transfers, self.device, load_methods())
        # A streaming RPC holds a thread while its job waits or runs, and a transfer while it moves: both are capped
        # (queue capacity, transfer slots), and the threads beyond those caps are kept for the quick calls, so the
        # health service always answers.
        threads = config.max_queue + config.max_jobs + config.max_transfers + QUICK_CALL_THREADS
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="impasto-rpc"),
            interceptors=[*([TokenInterceptor(token)] if token else []), StatusInterceptor()],
            # Two daemons must never share a port (grpc allows it by default): the second one is told it is taken.
            options=[("grpc.so_reuseport", 0)],
        )
        pb_grpc.add_StyleTransferServicer_to_server(self.service, self.server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        enable_reflection(self.server, (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name))
        address = f"[{config.host}]:{config.port}" if ":" in config.host else f"{config.host}:{config.port}"
        taken = config.port != 0 and not _port_free(config.host, config.port)
        try:
            if taken:
                self.port = 0
            elif credentials is not None:
                self.port = self.server.add_secure_port(address, credentials)
            else:
                self.port = self.server.add_insecure_port(address)
        except RuntimeError:  # grpc's "Failed to bind"
            self.port = 0
        if self.port == 0:
            raise OSError(
                f"cannot listen on {address}: the port is taken (another impasto daemon or another program); "
                f"stop it or choose another port with --port"
            )
        self.address = f"{'127.0.0.1' if config.host in ('0.0.0.0', '::') else config.host}:{self.port}"
        self.tls = credentials is not None
        self.token_required = bool(token)
        self._stopped = threading.Event()

    def start(self) -> Daemon:
        self.server.start()
        for name in ("", SERVICE_NAME):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        choice = precision.auto_choice(self.device)
        log.info(
            "serving",
            extra={
                "address": self.address,
                "device": f"{self.device} ({choice.device_model})",
                "precision": f"auto = {choice.dtype}: {choice.reason}",
                "tls": self.tls,
                "token": self.token_required,
            },
        )
        return self

    def stop(self, grace: float = 2.0) -> None:
        """Stops taking jobs, cancels running ones, and closes the server."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        self.jobs.shutdown()
        self.transfers.close()
        self.server.stop(grace).wait()
        log.info("stopped")

    def serve_forever(self, on_ready: Callable[[], None] = lambda: None) -> None:
        """Runs until SIGINT or SIGTERM, then shuts down cleanly.

        The handlers only set a flag, installed before the daemon says it is ready; the main thread polls it, so a
        signal is acted on whatever the other threads are doing.
        """
        requested = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: requested.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            on_ready()
            while not requested.wait(0.2):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
