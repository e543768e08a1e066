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
    if name == "04_token_exchange":
        saved = json.loads(Path(env["OAUTH_TOKEN_FILE"]).read_text())
        assert saved["principal"] == sandbox.info.user_email


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
