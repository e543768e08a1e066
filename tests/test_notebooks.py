"""Every notebook, run top to bottom in a fresh kernel against a sandbox this test starts.

The kernel's browser is the scripted one (``tests/scripted_browser.py``), plugged in through the
standard ``BROWSER`` variable, so the sign-ins complete in milliseconds; the notebooks
themselves are run unchanged. Asserts: no cell fails, each notebook reaches its goal, and no
secret (client secret, demo password, code, code verifier, access or refresh token) appears in
any output. Run with ``-s`` to see each notebook's run time.

Run as a script, this file is that browser, with one twist for the security lab's "click
Deny" step: it clicks Deny when the authorization URL requests the scope named in
``NOTEBOOK_TEST_DENY_SCOPE``, and Allow otherwise.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.ports import free_port

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
CELL_TIMEOUT = 60
DENY_SCOPE = "identity:scim.me"  # the scope 06_security_lab asks for in its "click Deny" step

# Prepended to each notebook: records every credential the helpers handle in the kernel, so
# the test knows exactly what must not appear in an output. It is run, then dropped.
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


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory):
    """A sandbox for the kernels, and the environment that points them at it."""
    from helpers.sandbox import serve_in_thread

    root = tmp_path_factory.mktemp("notebooks")
    port = free_port()
    with serve_in_thread(root / "sandbox", port=port) as sandbox:
        env = {
            "OAUTH_SANDBOX_DIR": str(root / "sandbox"),
            "OAUTH_SANDBOX_PORT": str(port),
            "OAUTH_REDIRECT_URI": f"http://127.0.0.1:{free_port()}/login/oauth2/code/goto",
            "OAUTH_TOKEN_FILE": str(root / "tokens.json"),
            "BROWSER": f"{sys.executable} {Path(__file__).resolve()} %s",
            "NOTEBOOK_TEST_DENY_SCOPE": DENY_SCOPE,
            "PYTHONPATH": str(REPO),
            # Set and empty, these beat a contributor's .env: the kernels never reach GoTo.
            "OAUTH_SERVICE_URL": "",
            "OAUTH_SCOPES": "",
            "GOTO_API_URL": "",
        }
        yield sandbox, env, root


def execute(name: str, env: dict[str, str], monkeypatch, cwd: Path) -> tuple[object, list, float]:
    """Run a copy of the notebook; return it executed, the credentials seen, and the seconds."""
    import nbformat
    from nbclient import NotebookClient

    for var in (
        "OAUTH_SERVICE_URL",
        "OAUTH_CLIENT_ID",
        "OAUTH_CLIENT_SECRET",
        "OAUTH_SCOPES",
        "GOTO_API_URL",
        "OAUTHLIB_INSECURE_TRANSPORT",
        "SCRIPTED_BROWSER_ACTION",
    ):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(RECORDER))
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(cwd)}},
    )
    started = time.monotonic()
    client.execute()
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


TIMES: dict[str, float] = {}

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


@pytest.mark.notebooks
@pytest.mark.parametrize("name", list(GOALS))
def test_notebook_runs_reaches_its_goal_and_shows_no_secret(
    name, notebook_env, monkeypatch, tmp_path
):
    sandbox, env, root = notebook_env
    nb, seen, seconds = execute(name, env, monkeypatch, NOTEBOOKS)
    TIMES[name] = seconds
    print(f"\n{name}: {seconds:.1f} s")
    text = output_text(nb)
    for goal in set(GOALS[name]):
        assert text.count(goal) >= GOALS[name].count(goal), f"{name}: no {goal!r} in the outputs"
    secrets = {sandbox.info.client_secret, sandbox.info.user_password, *seen}
    if Path(env["OAUTH_TOKEN_FILE"]).is_file():
        saved = json.loads(Path(env["OAUTH_TOKEN_FILE"]).read_text())
        secrets |= {saved.get("access_token"), saved.get("refresh_token")}
    secrets = {s for s in secrets if s and len(s) >= 8}
    assert len(secrets) >= 2
    leaked = [f"…{s[-4:]}" for s in secrets if s in text]
    assert not leaked, f"{name} shows secrets in its outputs: {leaked}"
    check_exercises(name, nb)
    if name == "04_token_exchange":
        saved = json.loads(Path(env["OAUTH_TOKEN_FILE"]).read_text())
        assert saved["principal"] == sandbox.info.user_email


def cell_text(cell) -> str:
    return "\n".join(o.get("text", "") + str(o.get("data", {})) for o in cell.get("outputs", []))


def check_exercises(name: str, nb) -> None:
    """Under Run All, each open exercise reports "not done" (or, to be fixed, "not right") and
    each hidden solution passes its check."""
    learner = [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]
    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert 1 <= len(solutions) <= 3 and len(learner) == len(solutions), name
    for cell in learner:
        assert "Not done yet" in cell_text(cell) or "Not right yet" in cell_text(cell), cell.source
    for cell in solutions:
        assert cell.metadata["jupyter"]["source_hidden"] is True
        assert "✔ Right" in cell_text(cell), (cell.source, cell_text(cell))


@pytest.mark.notebooks
def test_05_signs_in_again_when_the_saved_token_was_dropped_by_the_server(
    notebook_env, monkeypatch, tmp_path
):
    # Unexpired, from this sandbox, but unknown to it: as after its data was reset.
    from helpers.tokens import Token, TokenStore

    sandbox, env, root = notebook_env
    env = {**env, "OAUTH_TOKEN_FILE": str(tmp_path / "tokens.json")}
    TokenStore(tmp_path / "tokens.json").save(
        Token(
            access_token="AT-the-server-forgot-0123456789",
            refresh_token="RT-the-server-forgot-0123456789",
            expires_at=time.time() + 3600,
            scopes=("messaging.v1.send",),
            issuer=sandbox.url,
        )
    )
    nb, seen, seconds = execute("05_calling_the_api", env, monkeypatch, NOTEBOOKS)
    text = output_text(nb)
    assert "Using the token saved" in text
    assert "signing in again" in text and "Message sent" in text


@pytest.fixture(scope="module", autouse=True)
def report_times():
    yield
    if TIMES:
        lines = [f"  {name}: {seconds:5.1f} s" for name, seconds in TIMES.items()]
        total = sum(TIMES.values())
        print("\nNotebook run times:\n" + "\n".join(lines) + f"\n  total: {total:5.1f} s")


def _browser(url: str) -> int:
    """The scripted browser, clicking Deny when the URL requests NOTEBOOK_TEST_DENY_SCOPE."""
    sys.path.insert(0, str(REPO))
    from tests import scripted_browser

    deny = os.environ.get("NOTEBOOK_TEST_DENY_SCOPE")
    scopes = parse_qs(urlsplit(url).query).get("scope", [""])[0].split()
    os.environ["SCRIPTED_BROWSER_ACTION"] = "deny" if deny and deny in scopes else "allow"
    return scripted_browser.main([url])


if __name__ == "__main__":
    sys.exit(_browser(sys.argv[1]))


TOKEN = json.dumps(
    {
        "access_token": "AT-0123456789abcdef",
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": "RT-0123456789abcdef",
        "scope": "messaging.v1.send",
    }
)
GRANT_REFUSED = json.dumps({"error": "invalid_grant", "error_description": "refused"})


@pytest.mark.parametrize(
    ("answers", "conclusion"),
    [
        ((200, 400), "this server does not check PKCE"),
        ((200, 400), "the thief already cashed the code in"),
        ((400, 200), "Defence worked"),
        ((400, 200), "still worked"),
        ((400, 400), "burned after the failed attempt"),
    ],
)
def test_06_pkce_lab_concludes_from_what_the_server_did(
    config, token_server, capsys, answers, conclusion
):
    """The lab's two PKCE cells, against a token endpoint that checks PKCE or ignores it."""
    from dataclasses import replace
    from types import SimpleNamespace

    from helpers import lab, tokens
    from helpers.authorization import AuthorizationRequest
    from helpers.callback import CallbackResult
    from helpers.errors import InvalidGrant, InvalidRequest
    from tests.token_server import Answer

    nb = nbformat_read("06_security_lab")
    cells = [c.source for c in nb.cells if "stolen_worked" in c.source]
    assert len(cells) == 2
    for status in answers:
        token_server.answers.append(Answer(status, TOKEN if status == 200 else GRANT_REFUSED))
    # The sign-in is not under test here: the callback arrives as the listener would return it.
    signed_in = SimpleNamespace(
        wait_for_callback=lambda cfg, request, timeout: CallbackResult(
            "code-0123456789", request.state
        )
    )
    namespace = dict(
        cfg=config, ui=signed_in, replace=replace, lab=lab, tokens=tokens,
        AuthorizationRequest=AuthorizationRequest, InvalidGrant=InvalidGrant,
        InvalidRequest=InvalidRequest,
    )  # fmt: skip
    for source in cells:
        exec(source, namespace)  # noqa: S102 - the notebook's own cells
    assert conclusion in capsys.readouterr().out
    assert len(token_server.seen) == 2


def nbformat_read(name: str):
    import nbformat

    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
