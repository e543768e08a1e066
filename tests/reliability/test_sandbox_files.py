"""The sandbox's data folder is its owner's only (security review finding 3), and its log says
why it stopped (first-run issue).

A background sandbox (``ensure_running``, the way notebooks start it) on a fresh folder, one
whole sign-in so that every file exists, then ``os.stat`` of each.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import time
from pathlib import Path

import pytest
import requests

from helpers.sandbox import ensure_running, serve_in_thread, stop_running
from testing.ports import free_port
from tests.sandbox.flows import tokens_for

from .conftest import settle

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")

FILES = (
    "sandbox.sqlite3",
    "sandbox.sqlite3-wal",
    "sandbox.sqlite3-shm",
    "sandbox.log",
    "sandbox.json",
    "client_secret.txt",
)


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.fixture
def background(tmp_path, monkeypatch):
    data_dir, port = tmp_path / "bg", free_port()
    monkeypatch.setenv("OAUTH_SANDBOX_DIR", str(data_dir))
    monkeypatch.setenv("OAUTH_SANDBOX_PORT", str(port))
    monkeypatch.setattr(os, "umask", os.umask)  # the test process's own umask is untouched
    yield data_dir
    stop_running(data_dir=data_dir, port=port)
    with contextlib.suppress(OSError, ValueError, KeyError):
        os.kill(json.loads((data_dir / "sandbox.json").read_text())["pid"], signal.SIGKILL)


def test_the_folder_is_0700_and_every_file_in_it_0600(background, standin_listener):
    old = os.umask(0o022)  # a usual umask: what the files got before the fix
    try:
        info = ensure_running()
    finally:
        os.umask(old)
    tokens_for(info_as_sandbox(info), standin_listener)
    assert mode(background) == "0o700"
    for name in FILES:
        path = background / name
        assert path.exists(), name
        assert mode(path) == "0o600", f"{name} is {mode(path)}"
    assert {p.name for p in background.iterdir()} <= set(FILES)


def test_a_folder_made_loose_earlier_is_tightened(tmp_path):
    data_dir = tmp_path / "old"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)
    (data_dir / "sandbox.sqlite3").write_bytes(b"")  # SQLite takes an empty file as a new database
    os.chmod(data_dir / "sandbox.sqlite3", 0o644)
    with serve_in_thread(data_dir):
        assert mode(data_dir) == "0o700"
        for path in data_dir.iterdir():
            assert mode(path) == "0o600", f"{path.name} is {mode(path)}"


def test_the_log_says_why_the_sandbox_stopped(background):
    info = ensure_running()
    pid = json.loads((background / "sandbox.json").read_text())["pid"]
    os.kill(pid, signal.SIGTERM)
    assert settle(lambda: not (background / "sandbox.json").exists(), timeout=10)
    log = (background / "sandbox.log").read_text()
    assert "stopping: signal SIGTERM" in log, log[-500:]
    with pytest.raises(requests.ConnectionError):
        requests.get(info.url + "/health", timeout=1)


def test_the_log_names_who_asked_for_a_shutdown(background):
    ensure_running()
    assert stop_running() is True
    time.sleep(0.2)
    log = (background / "sandbox.log").read_text()
    assert "stopping: shutdown requested by pid " + str(os.getpid()) in log, log[-500:]


class info_as_sandbox:  # noqa: N801 - what tests.sandbox.flows needs of a sandbox
    def __init__(self, info) -> None:
        self.info, self.url = info, info.url
