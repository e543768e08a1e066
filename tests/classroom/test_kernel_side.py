"""What a learner's kernel makes of the class hub's environment (helpers/hub.py, connect.load)."""

from __future__ import annotations

import pytest

from helpers import connect, hub
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
