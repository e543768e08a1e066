"""A browser on "another machine": Chromium in a network namespace of its own, reaching this
machine through one forwarded port only, as ``ssh -L 8888:127.0.0.1:8888 server`` gives.

    >>> with Tunnel(lab_port) as tunnel:
    ...     browser = playwright.chromium.launch(executable_path=tunnel.launcher(chromium))

The browser's namespace has nothing but its own loopback: there, ``127.0.0.1:<lab_port>`` is a
listener that carries each connection over a Unix socket (which crosses namespaces) to this
machine's ``127.0.0.1:<lab_port>``, and every other port of ``127.0.0.1`` is the browser's own,
with nothing behind it. Needs ``unshare -n`` (root, or user namespaces) and ``ip``.

Run as a script (``python tunnel.py SOCKET PORT CHROMIUM ARGS...``, inside the namespace), it
is the far end: loopback up, the listener, then Chromium with Playwright's pipes (fds 3 and 4).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _relay(listener: socket.socket, connect) -> None:
    """Each connection accepted on ``listener`` joined to a new ``connect()``, both ways."""
    while True:
        try:
            near, _ = listener.accept()
        except OSError:
            return  # closed
        try:
            far = connect()
        except OSError:
            near.close()
            continue
        for a, b in ((near, far), (far, near)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def available() -> str | None:
    """None when a network namespace can be made here, else why not."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip is not installed (util-linux, iproute2)"
    done = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    return None if done.returncode == 0 else f"unshare -n fails here: {done.stderr.strip()}"


class Tunnel:
    """This machine's end: a Unix socket that leads to ``127.0.0.1:<port>``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.folder = Path(tempfile.mkdtemp(prefix="tunnel-"))
        self.socket_path = self.folder / "port.sock"
        self._listener = socket.socket(socket.AF_UNIX)
        self._listener.bind(str(self.socket_path))
        self._listener.listen(64)

        def connect():
            return socket.create_connection(("127.0.0.1", port), timeout=None)

        threading.Thread(target=_relay, args=(self._listener, connect), daemon=True).start()

    def launcher(self, chromium: str) -> str:
        """An executable that starts ``chromium`` in a namespace of its own, behind the tunnel."""
        script = self.folder / "chromium-behind-tunnel"
        script.write_text(
            "#!/bin/sh\n"
            f'exec unshare -n -- "{sys.executable}" "{Path(__file__).resolve()}" '
            f'"{self.socket_path}" {self.port} "{chromium}" "$@"\n'
        )
        script.chmod(0o755)
        return str(script)

    def close(self) -> None:
        self._listener.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Tunnel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _far_end(socket_path: str, port: int, chromium: str, args: list[str]) -> int:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    listener = socket.create_server(("127.0.0.1", port))

    def connect():
        far = socket.socket(socket.AF_UNIX)
        far.connect(socket_path)
        return far

    threading.Thread(target=_relay, args=(listener, connect), daemon=True).start()
    fds = tuple(fd for fd in (3, 4) if _is_open(fd))  # Playwright's pipe to Chromium
    return subprocess.run([chromium, *args], pass_fds=fds).returncode


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(_far_end(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]))
