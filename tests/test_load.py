"""Load: many clients at once for a minute against a daemon process (slow: pytest -m slow tests/test_load.py).

20 clients send small `cin` jobs and 5 send small `gatys` jobs, over and over. Nothing may hang, every result must
be right (a `cin` result equals the one computed alone), a full queue must be answered RESOURCE_EXHAUSTED at once,
and once the load is gone the daemon's memory must come back to within 10% of where it stood after its first jobs.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from impasto_client import Client, ImpastoError

from .conftest import as_array, free_port, rgb_image, scene, serve_process

pytestmark = pytest.mark.slow
SECONDS = 60


def rss(pid: int) -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) * 1024


def test_a_minute_of_concurrent_clients() -> None:
    port = free_port()
    daemon, _log = serve_process(port, "--max-queue", "8")
    address = f"127.0.0.1:{port}"
    content, style = rgb_image(scene(48, 48)), rgb_image(scene(48, 48, 1))
    try:
        with Client(address) as warm:
            reference = as_array(warm.stylize(content, ["cin26:4"], method="cin", params={"size": 48}).result())
            warm.stylize(content, [style], params={"size": 32, "steps": 5}).result()
        settled = rss(daemon.pid)
        outcomes: Counter[str] = Counter()
        failures: list[str] = []
        lock = threading.Lock()
        stop = time.monotonic() + SECONDS

        def worker(method: str) -> None:
            with Client(address, timeout=60) as client:
                while time.monotonic() < stop:
                    try:
                        if method == "cin":
                            out = client.stylize(content, ["cin26:4"], method="cin", params={"size": 48}).result()
                            ok = np.array_equal(as_array(out), reference)
                        else:
                            out = client.stylize(content, [style], params={"size": 32, "steps": 5}).result()
                            array = as_array(out)
                            ok = array.shape == (48, 48, 3) and not np.array_equal(array, as_array(content))
                        with lock:
                            outcomes["ok" if ok else "wrong"] += 1
                            if not ok:
                                failures.append(f"{method}: a wrong result")
                    except ImpastoError as err:
                        with lock:
                            outcomes[err.code] += 1
                            if err.code != "RESOURCE_EXHAUSTED":
                                failures.append(f"{method}: {err.code} {err.message}")
                        time.sleep(0.2)  # a full queue: try again shortly, as a client should

        threads = [threading.Thread(target=worker, args=("cin",)) for _ in range(20)]
        threads += [threading.Thread(target=worker, args=("gatys",)) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SECONDS + 120)
        assert not any(t.is_alive() for t in threads), "a client hung"
        assert not failures, failures[:5]
        assert outcomes["ok"] > 50 and outcomes["RESOURCE_EXHAUSTED"] > 0, outcomes
        time.sleep(2)
        assert rss(daemon.pid) < 1.1 * settled, (rss(daemon.pid), settled)
        with Client(address) as after:
            assert after.wait_ready(5)
    finally:
        daemon.terminate()
        daemon.wait(20)
