"""The callback listener's lifecycle at scale: 1,000 start/stop cycles on one port, listeners
replaced by re-run cells, waits that time out, and interrupted waits. Nothing may leak: the
thread count and the number of open file descriptors come back to where they started, and the
port is free at the end."""

from __future__ import annotations

import _thread
import signal
import socket
import threading
import time

import pytest
import requests

from helpers.callback import CallbackListener
from helpers.errors import CallbackTimeout, ListenerStopped
from tests.ports import can_bind, free_port

from .conftest import PATH, fd_count, settle

CYCLES = 1000


def test_a_thousand_start_stop_cycles_on_one_port_leak_no_thread_or_descriptor(baseline):
    threads_before, fds_before = baseline
    port = free_port()
    uri = f"http://127.0.0.1:{port}{PATH}"
    slowest = 0.0
    started = time.monotonic()
    for i in range(CYCLES):
        t0 = time.perf_counter()
        lst = CallbackListener(uri, f"state-{i}").start()
        if i % 50 == 0:  # now and then a served connection, so TIME_WAIT is in play
            assert requests.get(f"http://127.0.0.1:{port}/x", timeout=5).status_code == 404
        lst.stop()
        slowest = max(slowest, time.perf_counter() - t0)
    seconds = time.monotonic() - started
    assert settle(lambda: threading.active_count() <= threads_before)
    assert settle(lambda: fd_count() <= fds_before)
    assert can_bind(port)
    assert slowest < 1.0
    print(
        f"\n{CYCLES} start/stop cycles in {seconds:.2f} s (slowest {slowest * 1000:.1f} ms); "
        f"threads {threads_before} -> {threading.active_count()}, fds {fds_before} -> {fd_count()}"
    )


def test_three_hundred_re_run_cells_each_replace_the_previous_listener(baseline):
    """A re-run cell starts a new listener on the port without stopping the old one itself."""
    threads_before, fds_before = baseline
    port = free_port()
    uri = f"http://127.0.0.1:{port}{PATH}"
    previous = None
    for i in range(300):
        current = CallbackListener(uri, f"state-{i}").start()
        if previous is not None:
            assert not previous.is_running
            with pytest.raises(ListenerStopped):
                previous.wait(timeout=1)
        previous = current
    r = requests.get(uri, params={"code": "the-code", "state": "state-299"}, timeout=5)
    assert r.status_code == 200
    assert previous.wait(timeout=5).code == "the-code"
    assert settle(lambda: threading.active_count() <= threads_before)
    assert settle(lambda: fd_count() <= fds_before)
    assert can_bind(port)


def test_two_hundred_timed_out_waits_free_the_port_each_time(baseline):
    threads_before, fds_before = baseline
    port = free_port()
    uri = f"http://127.0.0.1:{port}{PATH}"
    for i in range(200):
        lst = CallbackListener(uri, f"state-{i}")
        with pytest.raises(CallbackTimeout):
            lst.wait(timeout=0.001)
        assert not lst.is_running
    assert can_bind(port)
    assert settle(lambda: threading.active_count() <= threads_before)
    assert settle(lambda: fd_count() <= fds_before)


def _interrupt_soon(how: str, delay: float) -> threading.Timer:
    if how == "SIGINT":  # what Jupyter's Interrupt button sends the kernel
        action = (signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    else:
        action = (_thread.interrupt_main, ())
    timer = threading.Timer(delay, action[0], action[1])
    timer.start()
    return timer


@pytest.mark.parametrize("how", ["SIGINT", "interrupt_main"])
def test_interrupting_wait_again_and_again_frees_the_port_with_connections_open(
    how, baseline, ctrl_c
):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("interrupts reach the main thread only")
    threads_before, fds_before = baseline
    port = free_port()
    uri = f"http://127.0.0.1:{port}{PATH}"
    delays = []
    for i in range(20):
        lst = CallbackListener(uri, f"state-{i}").start()
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)  # a preconnect
        half = socket.create_connection(("127.0.0.1", port), timeout=5)
        half.sendall(f"GET {PATH}?state=state-{i}&co".encode())
        timer = _interrupt_soon(how, 0.05)
        t0 = time.monotonic()
        try:
            with pytest.raises(KeyboardInterrupt):
                lst.wait(timeout=3)
            delays.append(time.monotonic() - t0)
        finally:
            timer.cancel()
            idle.close()
            half.close()
        assert not lst.is_running
        assert can_bind(port), f"port still held after interrupt {i}"
        with pytest.raises(requests.ConnectionError):
            requests.get(uri, timeout=2)
    assert max(delays) < 1.0, f"wait() took up to {max(delays):.2f} s to notice the interrupt"
    assert settle(lambda: threading.active_count() <= threads_before)
    assert settle(lambda: fd_count() <= fds_before)
    print(f"\n{how}: 20 interrupts, wait() ended within {max(delays) * 1000:.0f} ms of each")
