"""The daemon: a gRPC server with the style-transfer service, health, reflection and clean shutdown."""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import torch
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from impasto_client.v1 import impasto_pb2 as pb
from impasto_client.v1 import impasto_pb2_grpc as pb_grpc

from ..methods.registry import load_methods
from ..runtime.allocator import keep_freed_memory
from .jobs import JobQueue
from .service import StyleTransferService
from .store import ImageStore

log = logging.getLogger("impasto.daemon")
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


class Daemon:
    def __init__(self, config: Config) -> None:
        if not is_loopback(config.host) and not config.allow_remote:
            raise ValueError(
                f"refusing to listen on {config.host}: the daemon has no authentication yet, so it listens on "
                f"loopback only; pass --allow-remote if you really want other machines to reach it"
            )
        if config.models_dir is not None:
            import os

            os.environ["IMPASTO_MODELS_DIR"] = str(config.models_dir)
        self.config = config
        self.device = pick_device(config.device)
        if self.device.type == "cpu":
            keep_freed_memory()
        self.jobs = JobQueue(workers=config.max_jobs, capacity=config.max_queue)
        self.store = ImageStore(config.store_mb << 20)
        self.service = StyleTransferService(self.store, self.jobs, self.device, load_methods())
        # Each streaming RPC holds a thread while its job waits or runs, so allow the whole queue plus slack.
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=config.max_queue + config.max_jobs + 16))
        pb_grpc.add_StyleTransferServicer_to_server(self.service, self.server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            self.server,
        )
        address = f"[{config.host}]:{config.port}" if ":" in config.host else f"{config.host}:{config.port}"
        self.port = self.server.add_insecure_port(address)
        if self.port == 0:
            raise OSError(f"cannot listen on {address}: is another daemon already running there?")
        self.address = f"{'127.0.0.1' if config.host in ('0.0.0.0', '::') else config.host}:{self.port}"
        self._stopped = threading.Event()

    def start(self) -> Daemon:
        self.server.start()
        for name in ("", SERVICE_NAME):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"address": self.address, "device": str(self.device)})
        return self

    def stop(self, grace: float = 2.0) -> None:
        """Stops taking jobs, cancels running ones, and closes the server."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        self.jobs.shutdown()
        self.server.stop(grace).wait()
        log.info("stopped")

    def serve_forever(self) -> None:
        """Runs until SIGINT or SIGTERM, then shuts down cleanly."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: threading.Thread(target=self.stop, daemon=True).start())
        self.start()
        self._stopped.wait()
        self.server.wait_for_termination()
