"""What a learner's kernel makes of the class hub's environment (helpers/hub.py, connect.load),
and what it reports to the instructor page."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import connect, exercises, hub
from helpers.errors import ClassroomError, ConfigError

HUB_ENV = {
    "JUPYTERHUB_USER": "alice",
    "JUPYTERHUB_API_TOKEN": "hub-token",
    "OAUTH_CLASS_ROUTER_URL": "http://127.0.0.1:9/services/oauth-callback/",
    "OAUTH_SERVICE_URL": "http://127.0.0.1:8770",
    "GOTO_API_URL": "http://127.0.0.1:8770",
    "OAUTH_AUTHORIZE_BASE_URL": "https://hub.example.org/services/oauth-sandbox",
    "OAUTH_CLIENT_ID": "classroom",
    "OAUTH_CLIENT_SECRET": "class-client-secret",
    "OAUTH_REDIRECT_URI": "https://hub.example.org/services/oauth-callback/",
    "OAUTH_SANDBOX_PASSWORD": "alices-password",
}


@pytest.fixture
def on_hub(clean_env, monkeypatch):
    monkeypatch.setattr(hub, "_seat", None)
    for name, value in HUB_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_off_a_hub_nothing_changes(clean_env, monkeypatch):
    monkeypatch.setattr(hub, "_seat", None)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    assert hub.detect() is None
    assert not hub.uses_class_sandbox()


def test_on_the_class_hub_the_config_says_where_each_channel_goes(on_hub, capsys):
    cfg = connect.load()
    line = capsys.readouterr().out.strip()
    assert line.count("\n") == 0 and line.startswith("On JupyterHub:")
    assert "https://hub.example.org/services/oauth-sandbox (front channel)" in line
    assert "http://127.0.0.1:8770 (back channel)" in line
    assert "Sign in as alice with the password alices-password" in line
    assert cfg.authorize_url == "https://hub.example.org/services/oauth-sandbox/oauth/authorize"
    assert cfg.token_url == "http://127.0.0.1:8770/oauth/token"
    assert cfg.is_sandbox and "JupyterHub" in cfg._repr_html_()
    assert "class-client-secret" not in line + cfg._repr_html_() + repr(cfg)


def test_the_listener_gets_its_own_port_and_the_class_callbacks_path(on_hub):
    seat = hub.detect()
    assert seat is hub.detect()  # one port for the kernel's life
    assert seat.listen_uri(HUB_ENV["OAUTH_REDIRECT_URI"]) == (
        f"http://127.0.0.1:{seat.port}/services/oauth-callback/"
    )
    assert "hub-token" not in repr(seat)


def test_a_class_redirect_uri_must_be_https_off_this_machine(on_hub):
    on_hub.setenv("OAUTH_REDIRECT_URI", "http://hub.example.org/services/oauth-callback/")
    with pytest.raises(ConfigError, match="must use https"):
        connect.load()


def test_an_unreachable_class_callback_service_is_a_named_error(on_hub):
    from helpers.authorization import AuthorizationRequest

    cfg = connect.load(quiet=True)
    with pytest.raises(ClassroomError, match="cannot be reached"):
        AuthorizationRequest.new(cfg)  # port 9 (discard): nothing listens


# --- reports for the instructor page (helpers/hub.py), to a real HTTP server on loopback ------


class _Router(ThreadingHTTPServer):
    """Stands in for the class callback service: keeps what each POST carried."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Keep)
        self.posts: list[tuple[str, str, dict]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/services/oauth-callback/"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, str, dict]]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.posts


class _Keep(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, self.headers["Authorization"], json.loads(body)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args):
        pass


@pytest.fixture
def router(on_hub):
    server = _Router()
    on_hub.setenv("OAUTH_CLASS_ROUTER_URL", server.url)
    yield server
    server.shutdown()
    server.server_close()


def test_off_a_hub_nothing_is_reported(clean_env, monkeypatch):
    monkeypatch.setattr(hub, "_seat", None)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    sent = []
    monkeypatch.setattr(hub, "_send_later", lambda seat, event: sent.append(event))
    assert exercises.check_challenge(exercises.RFC7636_CHALLENGE).ok
    hub.report_error(ClassroomError("anything"))
    assert sent == []


def test_each_exercise_check_reports_its_number_and_result(router):
    exercises.check_challenge("not it")
    exercises.check_challenge(exercises.RFC7636_CHALLENGE)
    exercises.check_status_prediction({"made-up token": 401, "expired token": 401})
    exercises.check_challenge(...)  # not done yet: not reported
    posts = router.wait_for(3)
    time.sleep(0.2)  # a fourth would have come by now
    assert sorted((p[2]["exercise"], p[2]["status"]) for p in posts) == [
        ("2.1", "right"),
        ("2.1", "wrong"),
        ("5.1", "wrong"),
    ]
    assert {(p[0], p[1]) for p in posts} == {
        ("/services/oauth-callback/api/report", "token hub-token")
    }


def test_every_check_is_marked_as_an_exercise_with_its_number():
    checks = [getattr(exercises, n) for n in exercises.__all__ if n.startswith("check_")]
    assert len(checks) == 11
    for check in checks:  # @exercise read the number from the docstring at import
        assert hasattr(check, "__wrapped__"), check.__name__
        assert check.__doc__.startswith("Exercise "), check.__name__


def test_a_shown_error_is_reported_by_name_with_its_secrets_masked(router):
    from IPython.core.interactiveshell import InteractiveShell

    from helpers import error_display

    shell = InteractiveShell.instance()
    try:
        assert error_display.install(shell)
        secrets = {
            "class-client-secret": "the client secret",
            "alices-password": "the sandbox password",
            "SplxlOBeZQQYbYS6WxSbIA": "a code",
            "a-state-of-twenty-five-chars": "a state",
            "hub-token": "the hub token",
        }
        message = (
            "Refused: client_secret class-client-secret, password alices-password, "
            "callback ?code=SplxlOBeZQQYbYS6WxSbIA&state=a-state-of-twenty-five-chars, "
            "hub-token. " + "Run the cell again. " * 20
        )
        result = shell.run_cell(
            f"from helpers.errors import ClassroomError\nraise ClassroomError({message!r})"
        )
        assert isinstance(result.error_in_exec, ClassroomError)  # the cell still fails, as before
    finally:
        InteractiveShell.clear_instance()
    [(path, _, event)] = router.wait_for(1)
    assert path.endswith("/api/report") and event["error"] == "ClassroomError"
    assert event["message"].startswith("Refused: client_secret …cret, password …word")
    assert len(event["message"]) <= hub.MESSAGE_LIMIT + 1
    leaked = [what for secret, what in secrets.items() if secret in event["message"]]
    assert not leaked


def test_a_failing_report_never_fails_the_learners_cell(on_hub, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    from helpers import error_display

    # on_hub's router URL is port 9 (discard): nothing listens there.
    assert exercises.check_challenge(exercises.RFC7636_CHALLENGE).ok
    shell = InteractiveShell.instance()
    try:
        assert error_display.install(shell)
        shell.run_cell("from helpers.errors import ClassroomError\nraise ClassroomError('shown')")
    finally:
        InteractiveShell.clear_instance()
    out = capsys.readouterr()
    assert "ClassroomError: shown" in out.out and "Traceback" not in out.out + out.err
