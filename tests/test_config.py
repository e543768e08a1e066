"""Stage 1: loading and checking the OAuth client's values."""

from __future__ import annotations

import pytest

from helpers import config as cfgmod
from helpers import connect
from helpers.errors import ConfigError
from helpers.loopback import is_loopback

GOOD = {
    "OAUTH_SERVICE_URL": "https://authentication.logmeininc.com",
    "OAUTH_CLIENT_ID": "0f6c1b8e-8a55-4d7e-9a0b-4c1f2e3d4a5b",
    "OAUTH_CLIENT_SECRET": "s3cr+t/Value=xyz123",
    "OAUTH_REDIRECT_URI": "http://127.0.0.1:5000/login/oauth2/code/goto",
}


def write_env(folder, values: dict[str, str]) -> None:
    (folder / ".env").write_text("".join(f'{k}="{v}"\n' for k, v in values.items()))


def test_load_reads_dotenv_from_a_parent_folder(clean_env, monkeypatch):
    write_env(clean_env, GOOD)
    (clean_env / "notebooks").mkdir()
    monkeypatch.chdir(clean_env / "notebooks")
    cfg = connect.load()
    assert cfg.service_url == GOOD["OAUTH_SERVICE_URL"]
    assert cfg.client_secret == GOOD["OAUTH_CLIENT_SECRET"]
    assert cfg.token_url == "https://authentication.logmeininc.com/oauth/token"
    assert cfg.authorize_url == "https://authentication.logmeininc.com/oauth/authorize"
    assert cfg.scopes == ("messaging.v1.send",)
    assert not cfg.is_sandbox


def test_real_environment_variables_win_over_dotenv(clean_env, monkeypatch):
    write_env(clean_env, GOOD)
    monkeypatch.setenv("OAUTH_CLIENT_ID", "from-the-environment")
    monkeypatch.setenv("OAUTH_SCOPES", "messaging.v1.send messaging.v1.read")
    cfg = connect.load()
    assert cfg.client_id == "from-the-environment"
    assert cfg.scopes == ("messaging.v1.send", "messaging.v1.read")


def test_every_problem_is_listed_at_once_by_variable_name(clean_env):
    write_env(clean_env, {"OAUTH_SERVICE_URL": "https://authentication.logmeininc.com"})
    with pytest.raises(ConfigError) as caught:
        connect.load()
    assert set(caught.value.problems) == {
        "OAUTH_CLIENT_ID",
        "OAUTH_CLIENT_SECRET",
        "OAUTH_REDIRECT_URI",
    }
    message = str(caught.value)
    assert "OAUTH_CLIENT_ID: is missing" in message and ".env.example" in message


def test_placeholders_copied_from_env_example_are_refused(clean_env):
    (clean_env / ".env").write_text(
        (cfgmod.Path(cfgmod.__file__).parents[1] / ".env.example").read_text()
    )
    with pytest.raises(ConfigError) as caught:
        connect.load()
    assert "placeholder" in caught.value.problems["OAUTH_CLIENT_ID"]
    assert "placeholder" in caught.value.problems["OAUTH_CLIENT_SECRET"]


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("https://127.0.0.1:5000/cb", "http://"),
        ("http://0.0.0.0:5000/cb", "loopback"),
        ("http://example.com:5000/cb", "loopback"),
        ("http://127.0.0.1/login/oauth2/code/goto", "port"),
        ("http://127.0.0.1:5000", "path"),
        ("http://127.0.0.1:5000/cb?x=1", "query"),
    ],
)
def test_redirect_uri_must_be_loopback_with_port_and_path(uri, why):
    with pytest.raises(ConfigError) as caught:
        cfgmod.validate({**GOOD, "OAUTH_REDIRECT_URI": uri})
    assert why in caught.value.problems["OAUTH_REDIRECT_URI"]


def test_ipv6_loopback_redirect_uri_is_accepted():
    cfg = cfgmod.validate({**GOOD, "OAUTH_REDIRECT_URI": "http://[::1]:5000/cb"})
    assert cfg.redirect_uri == "http://[::1]:5000/cb"


def test_localhost_redirect_uri_warns_per_rfc_8252():
    with pytest.warns(UserWarning, match="RFC 8252"):
        cfgmod.validate({**GOOD, "OAUTH_REDIRECT_URI": "http://localhost:5000/cb"})


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://authentication.logmeininc.com", True),
        ("http://127.0.0.1:8765", True),
        ("http://authentication.logmeininc.com", False),
        ("authentication.logmeininc.com", False),
        ("https://authentication.logmeininc.com/oauth/token", False),
    ],
)
def test_service_url_needs_https_unless_loopback(url, ok):
    values = {**GOOD, "OAUTH_SERVICE_URL": url}
    if ok:
        assert cfgmod.validate(values).service_url == url
    else:
        with pytest.raises(ConfigError) as caught:
            cfgmod.validate(values)
        assert "OAUTH_SERVICE_URL" in caught.value.problems


@pytest.mark.parametrize(
    ("host", "loopback", "address"),
    [
        ("127.0.0.1", True, True),
        ("127.8.9.10", True, True),
        ("::1", True, True),
        ("[::1]", True, True),
        ("::1%lo", True, True),  # a peer address with its zone
        ("localhost", True, False),  # a name: not an address (RFC 8252 §8.3)
        ("LocalHost", True, False),
        ("0.0.0.0", False, False),
        ("::", False, False),
        ("10.0.0.1", False, False),
        ("localhost.example.com", False, False),
        ("127.0.0.1.nip.io", False, False),
        ("", False, False),
        (None, False, False),
    ],
)
def test_one_loopback_predicate_for_hosts_and_addresses(host, loopback, address):
    assert is_loopback(host) is loopback
    assert is_loopback(host, name=False) is address


def test_client_secret_never_appears_in_any_representation():
    cfg = cfgmod.validate(GOOD)
    secret = GOOD["OAUTH_CLIENT_SECRET"]
    for shown in (repr(cfg), str(cfg), cfg._repr_html_(), f"{cfg}", str([cfg])):
        assert secret not in shown
    assert "…z123" in repr(cfg)


def test_config_is_frozen():
    cfg = cfgmod.validate(GOOD)
    with pytest.raises(AttributeError):
        cfg.client_id = "other"  # type: ignore[misc]


def test_a_named_env_file_that_does_not_exist_is_an_error_not_the_sandbox(clean_env):
    with pytest.raises(ConfigError, match="typo.env does not exist"):
        connect.load(clean_env / "typo.env")
