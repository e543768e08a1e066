"""Fixtures shared by the helper tests: a clean environment and a scripted token endpoint."""

from __future__ import annotations

import signal

import pytest

from helpers.config import OAuthConfig
from testing.ports import free_port
from tests.browser.conftest import CHROMIUM_ARGS, _chromium_path, _unavailable
from tests.token_server import TokenServer

OAUTH_VARIABLES = (
    "OAUTH_SERVICE_URL",
    "OAUTH_CLIENT_ID",
    "OAUTH_CLIENT_SECRET",
    "OAUTH_REDIRECT_URI",
    "OAUTH_SCOPES",
    "GOTO_API_URL",
    "OAUTHLIB_INSECURE_TRANSPORT",
    "OAUTHLIB_RELAX_TOKEN_SCOPE",
)

# Shaped like a GoTo secret: it holds '+', '/' and '=', which HTTP Basic encoding must survive.
SECRET = "Qk+9x/Zr2=tPw7Lm+eV4"


@pytest.fixture
def ctrl_c():
    """Ctrl-C (SIGINT) raises KeyboardInterrupt in this test, as in a terminal or a kernel.

    Started with SIGINT ignored (``nohup ... &``, some CI runners), Python leaves it ignored:
    a test that interrupts a wait would wait out its timeout instead. Child processes started
    meanwhile get the default disposition too (a handled signal is reset on exec).
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No OAuth variables from the machine, and a working folder with no .env above it."""
    for name in OAUTH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def token_server():
    server = TokenServer()
    yield server
    server.close()


@pytest.fixture
def config(token_server, clean_env) -> OAuthConfig:
    return OAuthConfig(
        service_url=token_server.url,
        client_id="tutorial-client",
        client_secret=SECRET,
        redirect_uri="http://127.0.0.1:5000/login/oauth2/code/goto",
        scopes=("messaging.v1.send",),
        api_url=token_server.url,
    )


@pytest.fixture
def sandbox(tmp_path):
    """A real sandbox on a free loopback port, with its own SQLite database."""
    from helpers.sandbox import serve_in_thread

    with serve_in_thread(tmp_path / "sandbox") as running:
        yield running


@pytest.fixture
def sandbox_env(sandbox, clean_env, monkeypatch):
    """Environment that points connect.load() at the test's sandbox, as the notebooks see it."""
    port = int(sandbox.url.rsplit(":", 1)[1])
    monkeypatch.setenv("OAUTH_SANDBOX_DIR", sandbox.info.data_dir)
    monkeypatch.setenv("OAUTH_SANDBOX_PORT", str(port))
    monkeypatch.setenv(
        "OAUTH_REDIRECT_URI", f"http://127.0.0.1:{free_port()}/login/oauth2/code/goto"
    )
    monkeypatch.setenv("OAUTH_TOKEN_FILE", str(clean_env / "tokens.json"))
    return sandbox


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -r requirements-dev.txt)")
    path = _chromium_path()
    if path is None:
        _unavailable(
            "Chromium is not installed (apt-get install chromium), or set CHROMIUM to its path"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
