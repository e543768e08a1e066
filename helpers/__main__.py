"""``python -m helpers``: the whole tutorial in one command.

Loads the configuration (the local sandbox unless ``.env`` names GoTo), builds the authorization
URL, listens on the redirect URI, opens the browser, waits for the callback, exchanges the code,
saves the token and prints a masked summary.

    python -m helpers                 # sign in, with a browser
    python -m helpers --no-browser    # print the URL; open it yourself
    python -m helpers --json          # one JSON object per line, for scripts

When no callback arrives in time, or on Ctrl-C, it asks for the address the browser ended on
(for a browser that cannot reach this machine's 127.0.0.1), if stdin is a terminal and the
output is not --json; ``--paste`` asks whatever stdin is.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import connect, flow, tokens
from .authorization import AuthorizationRequest
from .config import mask
from .errors import OAuthTutorialError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m helpers",
        description="Obtain an OAuth access token with the Authorization Code Grant "
        "(the local sandbox unless .env names GoTo).",
    )
    p.add_argument("--no-browser", action="store_true", help="print the URL; do not open a browser")
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for the sign-in (default: 300)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per line")
    p.add_argument(
        "--scope",
        action="append",
        metavar="SCOPE",
        help="a scope to request (repeatable; default: the configured scopes)",
    )
    p.add_argument(
        "--no-pkce", action="store_true", help="send no PKCE challenge (the original tutorial)"
    )
    p.add_argument("--env-file", metavar="PATH", help="read this file instead of the nearest .env")
    p.add_argument("--no-save", action="store_true", help="do not save the token to .tokens.json")
    p.add_argument(
        "--paste",
        action="store_true",
        help="after a timeout or Ctrl-C, ask for the address the browser ended on even when "
        "stdin is not a terminal (by default only a terminal is asked, and never with --json)",
    )
    return p


class _Output:
    """Human-readable lines, or one JSON object per line with --json."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def event(self, name: str, text: str, **fields) -> None:
        if self.as_json:
            print(json.dumps({"event": name, **fields}), flush=True)
        else:
            print(text, flush=True)

    def note(self, text: str) -> None:
        # Progress lines go to stderr in JSON mode, so stdout stays machine-readable.
        print(text, file=sys.stderr if self.as_json else sys.stdout, flush=True)


def _ask(out: _Output):
    """``input`` for the paste fallback; with --json the prompt goes to stderr."""

    def ask(prompt: str) -> str:
        print(prompt, end="", file=sys.stderr if out.as_json else sys.stdout, flush=True)
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line

    return ask


def run(args: argparse.Namespace, out: _Output) -> int:
    cfg = connect.load(args.env_file, quiet=True)
    where = "the local sandbox" if cfg.is_sandbox else cfg.service_url
    out.note(f"Signing in with {where} as client {cfg.client_id}.")
    request = AuthorizationRequest.new(cfg, scopes=args.scope, pkce=not args.no_pkce)

    def on_event(kind: str, message: str) -> None:
        if kind == "waiting":  # the listener is up: show the address before the browser opens
            out.event(
                "authorization_url",
                f"Open this address in a browser, sign in and click Allow:\n\n  {request.url}\n",
                url=request.url,
            )
        elif not out.as_json and kind != "token":
            out.note(f"  [{kind}] {message}")

    paste = args.paste or (not out.as_json and sys.stdin is not None and sys.stdin.isatty())
    token = flow.sign_in(
        cfg,
        request=request,
        timeout=args.timeout,
        on_event=on_event,
        open_browser=not args.no_browser,
        ask=_ask(out) if paste else None,
        say=out.note,
        return_to="the terminal",
    )
    saved = None if args.no_save else tokens.TokenStore().save(token)
    out.event(
        "token",
        f"Access token received for {token.principal or 'the user'}:\n  {token!r}"
        + (f"\nSaved to {saved} (mode 0600, git-ignored)." if saved else ""),
        principal=token.principal,
        scope=" ".join(token.scopes),
        expires_in=token.expires_in,
        access_token=mask(token.access_token),
        saved_to=str(saved) if saved else None,
    )
    if token.missing_scopes:
        out.note(f"Note: not granted: {' '.join(token.missing_scopes)}.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = _Output(args.json)
    try:
        return run(args, out)
    except OAuthTutorialError as e:
        out.event(
            "error", f"Error ({type(e).__name__}): {e}", error=type(e).__name__, message=str(e)
        )
        return 1
    except KeyboardInterrupt:
        out.event("error", "Interrupted.", error="KeyboardInterrupt", message="interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
