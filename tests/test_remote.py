"""A remote daemon: TLS with certificates made here, a bearer token, and every way a client can get that wrong.

The daemon listens on loopback with the settings a GPU box in the next room would use (TLS and a token), and the
clients are the real thin client and the real CLI. Wrong or missing tokens, untrusted, expired or misnamed
certificates, and plaintext against TLS (and the reverse) each end quickly with a sentence, and the daemon keeps
serving; the token never appears in its log.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from impasto.serving.daemon import Config, Daemon
from impasto_client import Client, Connection, ImpastoError

from .conftest import free_port, rgb_image, scene, serve_process
from .pki import make_ca, make_server_cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    ca = make_ca(folder)
    good = make_server_cert(folder, ca, "good", "127.0.0.1")
    expired = make_server_cert(folder, ca, "expired", "127.0.0.1", expired=True)
    elsewhere = make_server_cert(folder, ca, "elsewhere", "gpu-box.example")
    other = tmp_path_factory.mktemp("other-ca")
    make_ca(other)
    token = folder / "token"
    done = subprocess.run([sys.executable, "-m", "impasto", "token", "new", "--out", str(token)], capture_output=True)
    assert done.returncode == 0, done.stderr
    wrong = folder / "wrong-token"
    wrong.write_text("not-the-token\n")
    return {
        "ca": folder / "ca.pem",
        "other_ca": other / "ca.pem",
        "cert": good[0],
        "key": good[1],
        "expired_cert": expired[0],
        "expired_key": expired[1],
        "elsewhere_cert": elsewhere[0],
        "elsewhere_key": elsewhere[1],
        "token": token,
        "wrong": wrong,
    }


@pytest.fixture(scope="module")
def remote(pki: dict[str, Path]) -> Daemon:
    daemon = Daemon(Config(port=0, tls_cert=pki["cert"], tls_key=pki["key"], token_file=pki["token"])).start()
    yield daemon
    daemon.stop(grace=0.5)


def test_a_token_file_is_random_and_private(pki: dict[str, Path]) -> None:
    assert stat.S_IMODE(pki["token"].stat().st_mode) == 0o600
    assert len(pki["token"].read_text().strip()) >= 40


def test_tls_and_the_token_let_a_client_stylize(remote: Daemon, pki: dict[str, Path]) -> None:
    with Client(Connection.from_files(remote.address, pki["token"], pki["ca"])) as client:
        client.check()
        result = client.stylize(rgb_image(scene(24, 24)), ["cin26:2"], method="cin", params={"size": 24}).result()
        assert (result.width, result.height) == (24, 24)


@pytest.mark.parametrize(("token", "needle"), [(None, "needs its token"), ("wrong", "does not accept that token")])
def test_a_missing_or_wrong_token_is_unauthenticated(
    remote: Daemon, pki: dict[str, Path], token: str | None, needle: str
) -> None:
    with Client(Connection.from_files(remote.address, pki[token] if token else None, pki["ca"])) as client:
        assert client.wait_ready(5)  # health needs no token: standard tools can check the daemon
        for call in (client.list_methods, lambda: client.put_image(rgb_image(scene(8, 8)), force=True)):
            with pytest.raises(ImpastoError) as info:
                call()
            assert info.value.code == "UNAUTHENTICATED" and needle in info.value.message


@pytest.mark.parametrize(
    ("ca", "tls", "needle"),
    [
        (None, False, "did not answer a plain connection"),  # plaintext client, TLS daemon
        ("other_ca", True, "not trusted"),  # a CA that did not sign the daemon's certificate
    ],
)
def test_tls_mismatches_are_quick_clear_refusals(
    remote: Daemon, pki: dict[str, Path], ca: str | None, tls: bool, needle: str
) -> None:
    connection = Connection.from_files(remote.address, pki["token"], pki[ca] if ca else None, tls)
    started = time.monotonic()
    with Client(connection) as client, pytest.raises(ImpastoError) as info:
        client.check(10)
    assert time.monotonic() - started < 10
    assert info.value.code == "UNAVAILABLE" and needle in info.value.message, info.value.message


@pytest.mark.parametrize("which", ["expired", "elsewhere"])
def test_expired_and_misnamed_certificates_are_refused(pki: dict[str, Path], which: str) -> None:
    daemon = Daemon(
        Config(port=0, tls_cert=pki[f"{which}_cert"], tls_key=pki[f"{which}_key"], token_file=pki["token"])
    ).start()
    try:
        with Client(Connection.from_files(daemon.address, pki["token"], pki["ca"])) as client:
            with pytest.raises(ImpastoError) as info:
                client.check(10)
            assert info.value.code == "UNAVAILABLE" and "TLS" in info.value.message
    finally:
        daemon.stop(grace=0.5)


def test_a_tls_client_against_a_plain_daemon(daemon: Daemon, pki: dict[str, Path]) -> None:
    with Client(Connection.from_files(daemon.address, None, pki["ca"])) as client, pytest.raises(ImpastoError) as info:
        client.check(10)
    assert info.value.code == "UNAVAILABLE" and "TLS" in info.value.message
    done = cli("styles", "--server", daemon.address, "--tls-ca", str(pki["ca"]))
    lines = done.stderr.strip().splitlines()  # grpc's own handshake log stays quiet
    assert done.returncode == 2 and len(lines) == 1 and "TLS" in lines[0], done.stderr


def test_listening_beyond_loopback_needs_tls_and_a_token(pki: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="give it TLS and a token"):
        Daemon(Config(host="0.0.0.0", port=0))
    with pytest.raises(ValueError, match="--insecure"):
        Daemon(Config(host="0.0.0.0", port=0, allow_remote=True))
    with pytest.raises(ValueError, match="--insecure"):
        Daemon(Config(host="0.0.0.0", port=0, tls_cert=pki["cert"], tls_key=pki["key"], allow_remote=True))
    with pytest.raises(ValueError, match="both --tls-cert and --tls-key"):
        Daemon(Config(port=0, tls_cert=pki["cert"]))
    secured = Daemon(Config(host="0.0.0.0", port=0, tls_cert=pki["cert"], tls_key=pki["key"], token_file=pki["token"]))
    secured.server.stop(0)
    insecure = Daemon(Config(host="0.0.0.0", port=0, allow_remote=True, insecure=True))
    insecure.server.stop(0)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "impasto", *args], capture_output=True, text=True, env=env or dict(os.environ)
    )


def test_the_cli_reaches_a_remote_daemon_and_says_what_is_wrong(pki: dict[str, Path], tmp_path: Path) -> None:
    port = free_port()
    daemon, log = serve_process(
        port, "--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"]), "--token-file", str(pki["token"])
    )
    try:
        address = f"127.0.0.1:{port}"
        good = cli("styles", "--server", address, "--tls-ca", str(pki["ca"]), "--token-file", str(pki["token"]))
        assert good.returncode == 0 and "cin26:0" in good.stdout, good.stderr
        for args, needle in (
            (["--tls-ca", str(pki["ca"])], "needs its token"),
            (["--tls-ca", str(pki["ca"]), "--token-file", str(pki["wrong"])], "does not accept that token"),
            (["--token-file", str(pki["token"])], "plain connection"),
            (["--tls-ca", str(tmp_path / "missing.pem")], "cannot read the CA certificate"),
        ):
            done = cli("styles", "--server", address, *args)
            assert done.returncode == 2, done.stderr
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and needle in lines[0], done.stderr
        # The settings file names the daemon and how to reach it; $IMPASTO_SERVER wins over its address.
        settings = tmp_path / "config.toml"
        settings.write_text(f'server = "{address}"\ntoken_file = "{pki["token"]}"\ntls_ca = "{pki["ca"]}"\n')
        env = {**os.environ, "IMPASTO_CONFIG": str(settings)}
        assert cli("styles", env=env).returncode == 0
        env["IMPASTO_SERVER"] = "127.0.0.1:1"
        assert cli("styles", env=env).returncode == 2
        assert daemon.poll() is None
    finally:
        daemon.terminate()
        daemon.wait(10)
    token = pki["token"].read_text().strip()
    assert all(token not in line for line in log), "the token was logged"
    assert any("wrong token refused" in line for line in log) and any("without a token" in line for line in log)


def test_serve_refuses_to_listen_beyond_loopback_unprotected() -> None:
    done = cli("serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "TLS and a token" in done.stderr
