"""Every notebook, run top to bottom in a fresh kernel against a sandbox this test starts.

``testing/notebooks.py`` runs them (with the scripted browser plugged in through ``BROWSER``,
so the sign-ins complete in milliseconds; the notebooks themselves run unchanged). Asserts: no
cell fails, each notebook reaches its goal, and no secret (client secret, demo password, code,
code verifier, access or refresh token) appears in any output. Run with ``-s`` to see each
notebook's run time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from testing.notebooks import GOALS, NOTEBOOKS, execute, kernel_env, output_text
from testing.ports import free_port


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory):
    """A sandbox for the kernels, and the environment that points them at it."""
    from helpers.sandbox import serve_in_thread

    root = tmp_path_factory.mktemp("notebooks")
    port = free_port()
    with serve_in_thread(root / "sandbox", port=port) as sandbox:
        env = kernel_env(root / "sandbox", port, free_port(), root / "tokens.json")
        yield sandbox, env, root


TIMES: dict[str, float] = {}


@pytest.mark.notebooks
@pytest.mark.parametrize("name", list(GOALS))
def test_notebook_runs_reaches_its_goal_and_shows_no_secret(
    name, notebook_env, monkeypatch, tmp_path
):
    sandbox, env, root = notebook_env
    nb, seen, seconds = execute(name, env, NOTEBOOKS)
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
    nb, seen, seconds = execute("05_calling_the_api", env, NOTEBOOKS)
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
