"""A studio: two daemons behind nginx with the shipped config (deploy/nginx/impasto.conf), real clients through it.

Four clients run twenty jobs at once through the proxy: every result must be right and both daemons must have
served some. Then one daemon is killed while jobs run: the clients must finish every job on the other (the client
sends its session key on every call, nginx keeps a session on one daemon, and a client whose daemon is lost sends
the job again, uploading its pictures to the daemon that answers now).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from impasto_client import Client, Connection, ImpastoError

from .conftest import as_array, free_port, require_tool, rgb_image, scene, serve_process

REPO = Path(__file__).resolve().parents[1]


def nginx_config(folder: Path, listen: int, daemons: list[int], by_session: bool = True) -> Path:
    """The shipped config with this test's ports, inside a minimal nginx.conf that keeps everything in `folder`;
    without `by_session`, nginx's default round robin, as a proxy set up without the session header would do."""
    shipped = (REPO / "deploy" / "nginx" / "impasto.conf").read_text()
    if not by_session:
        shipped, hashed = re.subn(r"(?m)^    hash \$http_x_impasto_session consistent;\n", "", shipped)
        assert hashed == 1
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=30s;\n" for port in daemons)
    site = re.sub(r"(?m)^    server 127\.0\.0\.1:\d+ .*\n", "", shipped)
    site = site.replace("    keepalive 16;\n", servers + "    keepalive 16;\n")
    site = site.replace("listen 127.0.0.1:50051 http2;", f"listen 127.0.0.1:{listen} http2;")
    assert site.count("server 127.0.0.1:") == len(daemons) and f":{listen} http2" in site
    (folder / "impasto.conf").write_text(site)
    temp = "".join(
        f"    {kind}_temp_path {folder / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = folder / "nginx.conf"
    main.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} warn;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        '    log_format routed "$http_x_impasto_session $upstream_addr";\n'
        f"    access_log {folder / 'access.log'} routed;\n{temp}    include {folder / 'impasto.conf'};\n}}\n"
    )
    return main


@dataclass
class Studio:
    address: str
    daemons: list[subprocess.Popen]
    logs: list[list[str]]
    sessions: list[str]  # four session keys, two that nginx routes to each daemon


def spread_sessions(address: str, access_log: Path, ports: list[int], each: int = 2) -> list[str]:
    """Session keys nginx routes `each` to every daemon: consistent hashing places a random key on either, so four
    random clients all land on one daemon one time in eight; the test picks its keys instead."""
    chosen: dict[int, list[str]] = {port: [] for port in ports}
    for _ in range(200):
        session = secrets.token_hex(8)
        with Client(Connection(address, session=session)) as probe:
            probe.check(10)
        time.sleep(0.05)
        routed = [line.split() for line in access_log.read_text().splitlines()]
        port = next(int(up.rsplit(":", 1)[1]) for key, up in reversed(routed) if key == session)
        if len(chosen[port]) < each:
            chosen[port].append(session)
        if all(len(keys) == each for keys in chosen.values()):
            return [key for keys in chosen.values() for key in keys]
    raise AssertionError(f"nginx sent 200 sessions to one daemon only: {chosen}")


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Studio]:
    yield from run_studio(tmp_path, by_session=True)


@pytest.fixture
def round_robin_studio(tmp_path: Path) -> Iterator[Studio]:
    yield from run_studio(tmp_path, by_session=False)


def run_studio(tmp_path: Path, by_session: bool) -> Iterator[Studio]:
    nginx = require_tool("nginx")
    ports = [free_port(), free_port()]
    started = [serve_process(port) for port in ports]
    listen = free_port()
    config = nginx_config(tmp_path, listen, ports, by_session)
    test = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    proxy = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"])
    try:
        address = f"127.0.0.1:{listen}"
        with Client(address) as probe:
            assert probe.wait_ready(20), (tmp_path / "error.log").read_text()
        sessions = spread_sessions(address, tmp_path / "access.log", ports) if by_session else []
        yield Studio(address, [p for p, _ in started], [log for _, log in started], sessions)
    finally:
        proxy.send_signal(signal.SIGQUIT)
        proxy.wait(10)
        for process, _ in started:
            process.kill()
            process.wait(10)


def jobs_finished(log: list[str]) -> int:
    return sum("job finished" in line for line in log)


def run_clients(studio: Studio, jobs: int, method: str) -> list[str]:
    """A thread per session, each its own Client, running `jobs` jobs on pictures of its own; returns what went
    wrong."""
    failures: list[str] = []

    def client(index: int) -> None:
        with Client(Connection(studio.address, session=studio.sessions[index]), timeout=60) as one:
            for job in range(jobs):
                content = rgb_image(scene(40, 40, seed=100 * index + job))
                try:
                    if method == "cin":
                        out = one.stylize(content, ["cin26:3"], method="cin", params={"size": 40}).result()
                        expected = reference(content)
                        if not np.array_equal(as_array(out), expected):
                            failures.append(f"client {index} job {job}: a wrong result")
                    else:
                        style = rgb_image(scene(40, 40, seed=7))
                        out = one.stylize(content, [style], params={"size": 40, "steps": 40}).result()
                        if (out.width, out.height) != (40, 40):
                            failures.append(f"client {index} job {job}: a result of the wrong size")
                except Exception as err:
                    failures.append(f"client {index} job {job}: {type(err).__name__}: {err}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(studio.sessions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    return failures


_REFERENCES: dict[bytes, np.ndarray] = {}
_REFERENCE_DAEMON: list[str] = []


def reference(content) -> np.ndarray:
    """The result of the same cin job computed on a daemon of its own, outside the studio."""
    key = bytes(content.data)
    if key not in _REFERENCES:
        with Client(_REFERENCE_DAEMON[0]) as alone:
            out = alone.stylize(content, ["cin26:3"], method="cin", params={"size": 40}).result()
        _REFERENCES[key] = as_array(out)
    return _REFERENCES[key]


def test_twenty_jobs_from_four_clients_through_nginx(studio: Studio, daemon) -> None:
    _REFERENCE_DAEMON[:] = [daemon.address]
    failures = run_clients(studio, jobs=5, method="cin")
    assert not failures, failures[:5]
    served = [jobs_finished(log) for log in studio.logs]
    assert served == [10, 10], served  # each session stays on its daemon


def test_clients_finish_on_the_other_daemon_when_one_is_lost(studio: Studio) -> None:
    results: list[list[str]] = []
    runner = threading.Thread(target=lambda: results.append(run_clients(studio, jobs=3, method="gatys")))
    runner.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(log_count(log, "job queued") for log in studio.logs):
        time.sleep(0.1)
    studio.daemons[0].kill()  # lost mid-run, as a crashed or unplugged machine is
    runner.join(300)
    assert results and not results[0], results[0][:5]
    # The survivor did its own sessions' six jobs and took over those the lost daemon had not finished.
    assert jobs_finished(studio.logs[1]) >= 12 - jobs_finished(studio.logs[0]) > 6


def test_a_proxy_that_ignores_the_session_key_is_named(round_robin_studio: Studio) -> None:
    """Round robin sends the upload to one daemon and the job to the other: the painter must learn what to fix in
    the proxy, not read "no image" about a picture they just sent; the daemons keep serving."""
    with Client(round_robin_studio.address, timeout=60) as one:
        with pytest.raises(ImpastoError) as refused:
            one.stylize(rgb_image(scene(40, 40, seed=1)), ["cin26:3"], method="cin", params={"size": 40}).result()
        assert refused.value.code == "NOT_FOUND"
        assert "x-impasto-session" in str(refused.value) and "load balancer" in str(refused.value)
        one.check(10)
    assert all(process.poll() is None for process in round_robin_studio.daemons)


def log_count(log: list[str], needle: str) -> int:
    return sum(needle in line for line in log)
