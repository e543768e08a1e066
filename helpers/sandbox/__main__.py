"""``python -m helpers.sandbox``: run the sandbox in this terminal (Ctrl+C stops it).

``python -m helpers.sandbox stop`` stops the one running on this data folder (only that one);
``debug-link`` prints the owner's link to its request log; ``use-free-port`` writes the next
free port to ``.env`` when another folder's sandbox holds the port.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from ..errors import SandboxError
from .control import stop_running
from .defaults import (
    ACCESS_TOKEN_LIFETIME,
    CODE_LIFETIME,
    DEFAULT_HOST,
    DEFAULT_PORT,
    REFRESH_MODE,
    REFRESH_MODES,
    REFRESH_TOKEN_LIFETIME,
)
from .process import _resolve, next_free_port, recorded_info


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return port


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return seconds


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.sandbox",
        description="A local GoTo-compatible OAuth 2.0 authorization server and API, for "
        "learning the Authorization Code Grant offline. 'stop' stops this folder's running "
        "one; 'debug-link' prints the link to its request log; 'use-free-port' sets "
        "OAUTH_SANDBOX_PORT in .env to the next free port.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["serve", "stop", "debug-link", "use-free-port"],
        default="serve",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (127.0.0.1); requests must name it, or 127.0.0.1, localhost "
        "or [::1], in their Host header",
    )
    parser.add_argument(
        "--port", type=_port, default=None, help=f"port ({DEFAULT_PORT}; 0: any free port)"
    )
    parser.add_argument("--data-dir", default=None, help="folder for the SQLite state")
    parser.add_argument("--client-id", default=None, help="the demo client's id")
    parser.add_argument(
        "--client-secret",
        default=os.environ.get("OAUTH_SANDBOX_CLIENT_SECRET"),
        help="the demo client's secret (or OAUTH_SANDBOX_CLIENT_SECRET: a command line is "
        "visible to every local user, the environment is not)",
    )
    parser.add_argument("--user-email", default=None, help="the demo user's email")
    parser.add_argument("--user-password", default=None, help="the demo user's password")
    parser.add_argument(
        "--access-token-lifetime", type=int, default=ACCESS_TOKEN_LIFETIME, metavar="SECONDS"
    )
    parser.add_argument(
        "--refresh-token-lifetime", type=int, default=REFRESH_TOKEN_LIFETIME, metavar="SECONDS"
    )
    parser.add_argument("--code-lifetime", type=int, default=CODE_LIFETIME, metavar="SECONDS")
    parser.add_argument(
        "--refresh-mode",
        choices=REFRESH_MODES,
        default=REFRESH_MODE,
        help="goto: refresh keeps the refresh token (GoTo's way); rotate: a new one each time, "
        "reuse of an old one revokes the family (RFC 9700 §4.14)",
    )
    parser.add_argument(
        "--idle-exit",
        type=_seconds,
        default=0,
        metavar="SECONDS",
        help="stop after this long without a request (0: never)",
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        metavar="URI",
        help="one more redirect URI for the demo client (repeatable); matched exactly, except "
        "the port of a loopback one (RFC 8252 §7.3); '{port}' in its path stands for any port "
        "number (the sandbox's own rule, for jupyter-server-proxy's /proxy/<port>/)",
    )
    # Behind a proxy (helpers/sandbox/front.py): a class on JupyterHub (hub.py,
    # classroom/jupyterhub_config.py), or one learner's Jupyter server (helpers/server_proxy.py).
    parser.add_argument(
        "--public-url",
        default=os.environ.get("OAUTH_SANDBOX_PUBLIC_URL"),
        metavar="URL",
        help="where browsers reach the sign-in pages through a proxy that keeps the path, e.g. "
        "https://hub.example.org/services/oauth-sandbox/ (its path is the prefix); with "
        "OAUTH_SANDBOX_CLASS_SECRET set, a class: learners sign in as their hub name with the "
        "password that secret's HMAC gives them",
    )
    parser.add_argument(
        "--events-file",
        default=os.environ.get("OAUTH_SANDBOX_EVENTS_FILE"),
        metavar="PATH",
        help="with --public-url: append each learner's progress here (JSON lines)",
    )
    parser.add_argument("--background", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def _use_free_port(port: int) -> int:
    """Write ``OAUTH_SANDBOX_PORT=<the next free port>`` to .env (made 0600 if new)."""
    from ..config import env_file_path

    free = next_free_port(port)
    if free is None:
        print(f"No free port found after {port}.", file=sys.stderr)
        return 1
    path = env_file_path() or Path.cwd() / ".env"
    lines = path.read_text("utf-8").splitlines() if path.is_file() else []
    lines = [line for line in lines if not line.strip().startswith("OAUTH_SANDBOX_PORT=")]
    lines.append(f"OAUTH_SANDBOX_PORT={free}")
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    path.write_text("\n".join(lines) + "\n", "utf-8")
    print(f"OAUTH_SANDBOX_PORT={free} written to {path}.")
    if os.environ.get("OAUTH_SANDBOX_PORT"):
        print("The environment also sets OAUTH_SANDBOX_PORT, and it wins over .env: unset it.")
    return 0


def _serve_class(app, args: argparse.Namespace) -> None:
    """The extra redirect URIs, and the front (front.py; hub.py for a class) when asked for."""
    from .defaults import DEMO_CLIENT_NAME, DEMO_REDIRECT_URI, DEMO_SCOPES
    from .front import Front
    from .hub import HubFront

    if args.redirect_uri:
        app.add_client(
            app.demo.client_id,
            app.demo.client_secret,
            redirect_uris=[DEMO_REDIRECT_URI, *args.redirect_uri],
            scopes=DEMO_SCOPES,
            name=DEMO_CLIENT_NAME,
        )
    if args.public_url:
        secret = os.environ.get("OAUTH_SANDBOX_CLASS_SECRET", "")
        events = Path(args.events_file) if args.events_file else None
        if secret or events:
            app.front = HubFront(args.public_url, secret.encode() or None, events)
        else:
            app.front = Front(args.public_url)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Like ensure_running: options, then OAUTH_SANDBOX_DIR / OAUTH_SANDBOX_PORT, then defaults.
    try:
        data_dir, port = _resolve(args.data_dir, args.port)
    except SandboxError as exc:
        print(f"python -m helpers.sandbox: error: {exc}", file=sys.stderr)
        return 2
    if args.command == "stop":
        try:
            stopped = stop_running(data_dir=data_dir, port=port)
        except SandboxError as exc:
            print(f"Not stopped. {exc}")
            return 1
        print(
            f"Stopped the sandbox of {data_dir}."
            if stopped
            else f"No sandbox of {data_dir} was running."
        )
        return 0
    if args.command == "debug-link":
        info = recorded_info(data_dir)
        if info is None or not info.control_token:
            print(f"No sandbox of {data_dir} is running (or its state file is not readable).")
            return 1
        print(info.debug_url)
        return 0
    if args.command == "use-free-port":
        return _use_free_port(port)

    if os.name != "nt":
        os.umask(0o077)  # whatever this process creates in the data folder is its owner's only
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("oauthlib").setLevel(logging.INFO)  # its DEBUG lines include tokens
    from .runner import RunningSandbox, build

    try:
        httpd = build(
            data_dir,
            host=args.host,
            port=port,
            client_id=args.client_id,
            client_secret=args.client_secret,
            user_email=args.user_email,
            user_password=args.user_password,
            access_token_lifetime=args.access_token_lifetime,
            refresh_token_lifetime=args.refresh_token_lifetime,
            code_lifetime=args.code_lifetime,
            refresh_mode=args.refresh_mode,
        )
    except OSError as exc:
        print(f"The sandbox cannot listen on {args.host}:{port}: {exc}", file=sys.stderr)
        return 2
    _serve_class(httpd.app, args)
    sandbox = RunningSandbox(httpd, idle_exit=args.idle_exit or None)
    info = sandbox.info

    def on_signal(signum, frame):
        sandbox.stop(f"signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, on_signal)
    # A process started in the background by a script (``cmd &``) inherits SIGINT ignored, and
    # JupyterHub stops a service with SIGINT first: take it back, or stopping waits 30 s.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, on_signal)  # the terminal it ran in was closed
    sandbox.start()
    if args.background:
        logging.getLogger("helpers.sandbox").info(
            "sandbox serving %s from %s", info.url, info.data_dir
        )
    else:
        # The instructor's own terminal: showing the secret here is the point.
        print(
            f"GoTo OAuth sandbox running at {info.url}\n"
            f"  data folder    {info.data_dir}\n"
            f"  client id      {info.client_id}\n"
            f"  client secret  {info.client_secret}\n"
            f"  redirect URI   http://127.0.0.1:<any port>/login/oauth2/code/goto\n"
            f"  demo user      {info.user_email} / {info.user_password}\n"
            f"  refresh mode   {args.refresh_mode}\n"
            f"  requests log   {info.debug_url}\n"
            "Press Ctrl+C to stop.",
            flush=True,
        )
    try:
        while not sandbox.wait(0.5):
            pass
    except KeyboardInterrupt:
        sandbox.stop("Ctrl+C (SIGINT)")
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
