"""SIGKILL the sandbox process under load, restart it, and check nothing was lost or half-written.

Four client threads run whole sign-ins (login page, consent, code exchange) and refreshes
against ``python -m helpers.sandbox`` while it is killed with SIGKILL at a random moment. After
each restart on the same data folder: the database opens, ``PRAGMA integrity_check`` is ok,
every access token the clients got a 200 for still works, and every refresh token refreshes.
tests/sandbox/test_process.py kills an idle sandbox once; this kills a busy one, repeatedly.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import requests

from helpers.sandbox import recorded_info
from helpers.sandbox.store import DB_NAME
from testing.ports import free_port
from tests.sandbox.flows import refresh, tokens_for, whoami

ROOT = Path(__file__).resolve().parents[2]
KILLS = 4
CLIENTS = 4


def start(data_dir: Path, port: int) -> tuple[subprocess.Popen, SimpleNamespace, float]:
    args = [sys.executable, "-m", "helpers.sandbox", "--data-dir", str(data_dir)]
    args += ["--port", str(port)]
    started = time.monotonic()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = started + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/health", timeout=0.5).json()["pid"] == proc.pid:
                break
        except (requests.RequestException, ValueError, KeyError):
            time.sleep(0.02)
    else:
        proc.kill()
        raise AssertionError("the sandbox did not come back: " + proc.stderr.read().decode())
    seconds = time.monotonic() - started
    info = recorded_info(data_dir)
    return proc, SimpleNamespace(url=url, info=info), seconds


def integrity(data_dir: Path) -> str:
    db = sqlite3.connect(data_dir / DB_NAME, timeout=10)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def test_sigkill_under_load_loses_no_issued_token_and_leaves_a_sound_database(
    tmp_path, standin_listener
):
    data_dir, port = tmp_path / "killed", free_port()
    rng = random.Random(9)
    issued: list[dict] = []  # every token response the clients got a 200 for
    lock = threading.Lock()
    recoveries, per_round = [], []
    proc, remote, _ = start(data_dir, port)
    try:
        for _ in range(KILLS):
            stop = threading.Event()

            def client(remote=remote, stop=stop) -> None:
                while not stop.is_set():
                    try:
                        tokens = tokens_for(remote, standin_listener)
                        with lock:
                            issued.append(tokens)
                        again = refresh(remote, tokens["refresh_token"])
                        if again.status_code == 200:
                            with lock:
                                issued.append({**tokens, **again.json()})
                    except Exception:  # noqa: BLE001 - the server died under us: expected
                        if stop.wait(0.02):
                            return

            threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
            before = len(issued)
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.6, 1.2))
            proc.send_signal(signal.SIGKILL)  # mid-flight: requests are being answered
            proc.wait(10)
            stop.set()
            for t in threads:
                t.join(15)
            per_round.append(len(issued) - before)
            assert integrity(data_dir) == "ok"
            proc, remote, seconds = start(data_dir, port)
            recoveries.append(seconds)
            for tokens in issued:
                assert whoami(remote, tokens["access_token"]).status_code == 200
            for tokens in issued[before:]:
                assert refresh(remote, tokens["refresh_token"]).status_code == 200
    finally:
        proc.kill()
        proc.wait(10)
    assert integrity(data_dir) == "ok"
    assert sum(per_round) >= KILLS * 5, per_round  # the kills really happened under load
    print(
        f"\n{KILLS} SIGKILLs under load; token responses per round {per_round}; "
        f"restart to /health in {min(recoveries):.2f}-{max(recoveries):.2f} s"
    )
