"""The job queue seen through the protocol: progress, previews, cancellation, a full queue, shutdown."""

from __future__ import annotations

import threading
import time

import pytest

from impasto.serving.daemon import Config, Daemon
from impasto_client import Client, ImpastoError

from .conftest import rgb_image, scene

LONG = {"size": 96, "steps": 10000, "coarse_steps": 0}


def _wait_idle(daemon: Daemon, timeout: float = 20.0) -> float:
    start = time.monotonic()
    while daemon.jobs.active():
        assert time.monotonic() - start < timeout, "the job kept running after it was cancelled"
        time.sleep(0.05)
    return time.monotonic() - start


def test_progress_and_previews_stream(client: Client) -> None:
    events = []
    call = client.stylize(
        rgb_image(scene(48, 48)),
        [rgb_image(scene(48, 48, 5))],
        params={"size": 48, "steps": 4, "coarse_steps": 0},
        preview_every=2,
    )
    result = call.result(events.append)
    kinds = [e.kind for e in events]
    assert "progress" in kinds and kinds[-1] == "result"
    steps = [e.step for e in events if e.kind == "progress"]
    assert steps == sorted(steps) and steps[-1] == 4 and all(e.total == 4 for e in events if e.kind == "progress")
    previews = [e for e in events if e.kind == "preview"]
    assert [p.step for p in previews] == [2, 4]
    assert previews[0].image.width == 48
    assert (result.width, result.height) == (48, 48)


def test_cancelling_the_call_stops_the_job(client: Client, daemon: Daemon) -> None:
    call = client.stylize(rgb_image(scene(96, 96)), [rgb_image(scene(96, 96, 1))], params=LONG)
    seen = []
    with pytest.raises(ImpastoError) as info:
        for event in call:
            seen.append(event)
            if event.kind == "progress" and event.step >= 2:
                call.cancel()
    assert info.value.code == "CANCELLED"
    # One optimisation step at 96 px takes well under a second here.
    assert _wait_idle(daemon) < 10
    # The daemon serves the next job normally.
    quick = client.stylize(
        rgb_image(scene(32, 32)), [rgb_image(scene(32, 32, 1))], params={"size": 32, "steps": 1, "coarse_steps": 0}
    ).result()
    assert quick.width == 32


def test_full_queue_is_resource_exhausted_and_positions_are_reported() -> None:
    daemon = Daemon(Config(port=0, max_jobs=1, max_queue=1)).start()
    try:
        with Client(daemon.address) as client:
            content, style = rgb_image(scene(96, 96)), rgb_image(scene(96, 96, 1))
            running = client.stylize(content, [style], params=LONG)
            events = iter(running)
            assert any(e.kind == "queued" and e.position == 0 for e in events)  # it has started
            waiting = client.stylize(content, [style], params=LONG)
            queued = threading.Event()

            def watch() -> None:
                for event in _until_error(waiting):
                    if event.kind == "queued" and event.position == 1:
                        queued.set()

            waiter = threading.Thread(target=watch)
            waiter.start()
            assert queued.wait(10), "the waiting job was never told its queue position"
            with pytest.raises(ImpastoError) as info:
                client.stylize(content, [style], params=LONG).result()
            assert info.value.code == "RESOURCE_EXHAUSTED" and "queue is full" in info.value.message
            waiting.cancel()
            running.cancel()
            waiter.join(10)
            _wait_idle(daemon)
    finally:
        daemon.stop(grace=0.5)


def _until_error(call):
    try:
        yield from call
    except ImpastoError:
        return


def test_shutdown_cancels_running_jobs() -> None:
    daemon = Daemon(Config(port=0)).start()
    with Client(daemon.address) as client:
        call = client.stylize(rgb_image(scene(96, 96)), [rgb_image(scene(96, 96, 1))], params=LONG)
        it = iter(call)
        next(it)
        start = time.monotonic()
        daemon.stop(grace=0.5)
        with pytest.raises(ImpastoError):
            for _ in it:
                pass
        assert time.monotonic() - start < 15
        assert not any(t.is_alive() for t in daemon.jobs._threads)


def test_non_loopback_host_is_refused_unless_allowed() -> None:
    with pytest.raises(ValueError, match="other machines may reach it, so give it TLS and a token"):
        Daemon(Config(host="0.0.0.0", port=0))
