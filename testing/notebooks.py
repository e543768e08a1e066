"""Run a notebook top to bottom in a fresh kernel, and read what it showed.

    >>> env = kernel_env(sandbox_dir, sandbox_port, redirect_port, tmp / "tokens.json")
    >>> nb, seen, seconds = execute("03_callback_listener", env, cwd=NOTEBOOKS)
    >>> all(goal in output_text(nb) for goal in GOALS["03_callback_listener"])
    True

The kernel's browser is the scripted one, plugged in through the standard ``BROWSER`` variable,
so the sign-ins complete in milliseconds; the notebooks themselves run unchanged. ``seen`` is
every credential the helpers handled in the kernel, so a caller knows what must not appear in
an output. Run as a script, this file is that browser, with one twist for the security lab's
"click Deny" step: it clicks Deny when the authorization URL requests the scope named in
``NOTEBOOK_TEST_DENY_SCOPE``, and Allow otherwise.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
CELL_TIMEOUT = 60
DENY_SCOPE = "identity:scim.me"  # the scope 06_security_lab asks for in its "click Deny" step

#: What each notebook must show when it reaches its goal (a text may be required several times).
GOALS = {
    "01_configure": ["Talking to: the local sandbox", "problem(s)"],
    "02_authorization_url": [
        "code_challenge_method",
        "<the-authorization-code>",
        "state                  differs",
        "Same endpoint: True",
    ],
    "03_callback_listener": [
        "HTTP 403",
        "State matches this attempt: True",
        "Refused:",
        "forged: 403 | ours: 200 | code kept: made-up",
    ],
    "04_token_exchange": [
        "Saved to",
        "my-client:s3cr%2Bt%2Fwith%3Dsigns",
        "my-client:s3cr+t/with=signs",
        "principal: ",
        "fetch_token: a token for learner@example.com",
    ],
    "05_calling_the_api": [
        "Message sent",
        "401 InvalidToken",
        "403 InsufficientScope",
        "Refreshed",
        "InvalidGrant",
    ],
    "06_security_lab": ["Defence worked"] * 5,
}

# Variables of the caller's environment a kernel must not inherit: it would reach GoTo, or
# allow plain http everywhere, or click the wrong button.
_NOT_INHERITED = (
    "OAUTH_SERVICE_URL",
    "OAUTH_CLIENT_ID",
    "OAUTH_CLIENT_SECRET",
    "OAUTH_SCOPES",
    "GOTO_API_URL",
    "OAUTHLIB_INSECURE_TRANSPORT",
    "SCRIPTED_BROWSER_ACTION",
)

# Prepended to each notebook: records every credential the helpers handle in the kernel, so
# the caller knows exactly what must not appear in an output. It is run, then dropped.
RECORDER = r"""
import helpers.authorization as _a, helpers.callback as _c, helpers.tokens as _t
_SEEN = []
_new = _a.AuthorizationRequest.new.__func__
def _rec_new(cls, *a, **k):
    r = _new(cls, *a, **k); _SEEN.append(r.code_verifier); return r
_a.AuthorizationRequest.new = classmethod(_rec_new)
_wait = _c.CallbackListener.wait
def _rec_wait(self, *a, **k):
    r = _wait(self, *a, **k); _SEEN.append(r.code); return r
_c.CallbackListener.wait = _rec_wait
def _recording(f):
    def g(*a, **k):
        _SEEN.extend(str(x) for x in a if isinstance(x, str))
        t = f(*a, **k)
        if t is not None: _SEEN.extend([t.access_token, t.refresh_token])
        return t
    return g
_t.exchange, _t.refresh = _recording(_t.exchange), _recording(_t.refresh)
import requests_oauthlib as _ro  # the "under the hood" cells call it directly
_fetch = _ro.OAuth2Session.fetch_token
def _rec_fetch(self, *a, **k):
    t = _fetch(self, *a, **k); _SEEN.extend([t.get("access_token"), t.get("refresh_token")])
    return t
_ro.OAuth2Session.fetch_token = _rec_fetch
"""
REPORT = "import json as _j; print('SEEN=' + _j.dumps([s for s in _SEEN if s]))"


def kernel_env(
    sandbox_dir: str | os.PathLike, sandbox_port: int, redirect_port: int, token_file: Path
) -> dict[str, str]:
    """The variables that point a kernel at a sandbox already running on ``sandbox_port``."""
    return {
        "OAUTH_SANDBOX_DIR": str(sandbox_dir),
        "OAUTH_SANDBOX_PORT": str(sandbox_port),
        "OAUTH_REDIRECT_URI": f"http://127.0.0.1:{redirect_port}/login/oauth2/code/goto",
        "OAUTH_TOKEN_FILE": str(token_file),
        "BROWSER": f"{sys.executable} {Path(__file__).resolve()} %s",
        "NOTEBOOK_TEST_DENY_SCOPE": DENY_SCOPE,
        "PYTHONPATH": str(REPO),
        # Set and empty, these beat a contributor's .env: the kernels never reach GoTo.
        "OAUTH_SERVICE_URL": "",
        "OAUTH_SCOPES": "",
        "GOTO_API_URL": "",
    }


def execute(
    name: str, env: dict[str, str], cwd: Path, folder: Path = NOTEBOOKS
) -> tuple[object, list, float]:
    """Run a copy of ``folder/name.ipynb`` in a kernel started in ``cwd`` with this process's
    environment plus ``env``; return it executed, the credentials seen, and the seconds."""
    import nbformat
    from nbclient import NotebookClient

    kernel = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED} | env
    nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(RECORDER))
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(cwd)}},
    )
    started = time.monotonic()
    client.execute(env=kernel)
    seconds = time.monotonic() - started
    report = nb.cells.pop()
    nb.cells.pop(0)
    line = next(o["text"] for o in report.outputs if o.get("name") == "stdout")
    seen = json.loads(line.split("SEEN=", 1)[1])
    return nb, seen, seconds


def output_text(nb) -> str:
    """Everything the notebook's cells output, in every format."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            for value in out.get("data", {}).values():
                parts.append(value if isinstance(value, str) else json.dumps(value))
            parts += out.get("traceback", [])
    return "\n".join(parts)


def _browser(url: str) -> int:
    """The scripted browser, clicking Deny when the URL requests NOTEBOOK_TEST_DENY_SCOPE."""
    sys.path.insert(0, str(REPO))
    from testing import scripted_browser

    deny = os.environ.get("NOTEBOOK_TEST_DENY_SCOPE")
    scopes = parse_qs(urlsplit(url).query).get("scope", [""])[0].split()
    os.environ["SCRIPTED_BROWSER_ACTION"] = "deny" if deny and deny in scopes else "allow"
    return scripted_browser.main([url])


if __name__ == "__main__":
    sys.exit(_browser(sys.argv[1]))
