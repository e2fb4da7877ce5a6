"""The deployment files: the Dockerfile and the systemd unit run commands `impasto` accepts, from files that exist.

Where a docker engine answers, the CPU variant of the image is built and its daemon answers a health check; where
none does (as on CI here), the Dockerfile is linted: its sources exist, its base is the official PyTorch CUDA image,
and its command parses with the real CLI. The systemd unit is checked by systemd-analyze where it is installed.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from impasto.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
UNIT = REPO / "deploy" / "systemd" / "impasto.service"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            logical.append(pending)
            pending = ""
    return [(entry.split(None, 1)[0].upper(), entry.split(None, 1)[1]) for entry in logical]


def test_the_dockerfile_builds_from_the_official_cuda_image_and_runs_a_valid_command() -> None:
    steps = instructions(DOCKERFILE.read_text())
    args = {value.split("=", 1)[0]: value.split("=", 1)[1] for kind, value in steps if kind == "ARG" and "=" in value}
    assert re.fullmatch(r"pytorch/pytorch:[\d.]+-cuda[\d.]+-cudnn\d+-runtime", args["BASE"]), args
    assert ("FROM", "${BASE}") in steps
    for kind, value in steps:
        if kind == "COPY":
            for source in value.split()[:-1]:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    command = json.loads(next(value for kind, value in steps if kind == "CMD"))
    assert command[:2] == ["impasto", "serve"]
    parsed = build_parser().parse_args(command[1:])
    assert parsed.host == "0.0.0.0" and parsed.tls_cert and parsed.tls_key and parsed.token_file, parsed
    exposed = next(value for kind, value in steps if kind == "EXPOSE")
    assert exposed == str(parsed.port)
    assert any(kind == "USER" and value != "root" for kind, value in steps), "the daemon must not run as root"


def docker_engine() -> str | None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True).returncode != 0:
        return None
    return docker


@pytest.mark.slow
def test_the_cpu_image_builds_and_serves() -> None:
    docker = docker_engine()
    if docker is None:
        pytest.skip("no docker engine answers here; the Dockerfile is linted instead")
    tag = "impasto-test:cpu"
    build = [docker, "build", "-f", str(DOCKERFILE), "--build-arg", "BASE=python:3.11-slim",
             "--build-arg", "TORCH_INDEX=https://download.pytorch.org/whl/cpu", "-t", tag, str(REPO)]  # fmt: skip
    done = subprocess.run(build, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    probe = subprocess.run([docker, "run", "--rm", tag, "impasto", "--help"], capture_output=True, text=True)
    assert probe.returncode == 0 and "serve" in probe.stdout, probe.stderr


def test_the_systemd_unit_starts_impasto_serve() -> None:
    text = UNIT.read_text()
    service = dict(re.findall(r"(?m)^(\w+)=(.*)$", text.split("[Service]", 1)[1].split("[Install]", 1)[0]))
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/impasto") and argv[1] == "serve", argv
    build_parser().parse_args(argv[1:])
    assert service["KillSignal"] == "SIGINT"  # the daemon's clean stop
    assert service["RestartPreventExitStatus"] == "2"  # a refused setting: restarting cannot help
    assert "WantedBy=default.target" in text  # a user unit
    analyze = shutil.which("systemd-analyze")
    if analyze:
        # Reports each line it cannot parse as FILE:LINE: (and, here, the binary that is not installed: ignored).
        done = subprocess.run([analyze, "verify", str(UNIT)], capture_output=True, text=True)
        problems = re.findall(rf"(?m)^{re.escape(str(UNIT))}:\d+:.*$", done.stderr)
        assert not problems, problems
