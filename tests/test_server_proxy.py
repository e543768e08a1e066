"""Signing in through jupyter-server-proxy, without a browser: which server owns the kernel,
the browser-facing addresses, the browser's answer, the sandbox's side (its pages under the
proxy's prefix, the ``{port}`` redirect URIs, a restart for another address). The whole way,
in Chromium, is in tests/browser/test_server_proxy*.py."""

from __future__ import annotations

import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import quote, urlencode

import pytest
import requests

from helpers import lab, server_proxy
from helpers.browser_origin import OriginListener, parse_origin
from helpers.config import OAuthConfig
from helpers.sandbox import (
    ensure_running,
    ensure_serving,
    recorded_info,
    request_log_link,
    serve_in_thread,
    show_request_log,
    stop_running,
)
from helpers.sandbox.__main__ import _serve_class, parse_args
from helpers.sandbox.validator import redirect_uri_matches
from helpers.server_proxy import Route, find_server, hub_origin
from testing.ports import free_port


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    """A Jupyter runtime folder, and a way to say "this kernel's parent is a server there"."""
    folder = tmp_path / "runtime"
    folder.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(folder))
    monkeypatch.delenv(server_proxy.HUB_PREFIX, raising=False)
    server_proxy._routes.clear()

    def serve(url: str, base_url: str = "/", token: str = "t0k3n"):
        info = {"url": url, "base_url": base_url, "token": token, "pid": os.getppid()}
        (folder / f"jpserver-{os.getppid()}.json").write_text(json.dumps(info))

    yield serve
    server_proxy._routes.clear()


# --- which server ------------------------------------------------------------------------------


def test_no_server_owns_the_kernel_under_nbclient_or_in_a_terminal(runtime):
    assert find_server() is None
    assert server_proxy.detect(say=pytest.fail) is None


def test_the_server_of_the_parent_process_with_its_base_url(runtime):
    runtime("http://127.0.0.1:8888/user/x/", "/user/x/")
    server = find_server({})
    assert (server.url, server.base_url, server.token) == (
        "http://127.0.0.1:8888/user/x/",
        "/user/x/",
        "t0k3n",
    )
    assert not server.is_local and not server.on_hub


def test_on_a_hub_the_prefix_and_the_hub_token(runtime):
    runtime("http://127.0.0.1:41000/user/alice/", "/", token="")
    env = {server_proxy.HUB_PREFIX: "/user/alice/", "JUPYTERHUB_API_TOKEN": "hub-token"}
    server = find_server(env)
    assert (server.base_url, server.token, server.on_hub) == ("/user/alice/", "hub-token", True)


@pytest.mark.parametrize(
    ("url", "base_url", "local"),
    [
        ("http://127.0.0.1:8888/", "/", True),  # a laptop's JupyterLab: straight to 127.0.0.1
        ("http://localhost:8888/", "/", True),
        ("http://127.0.0.1:8888/lab/x/", "/lab/x/", False),  # a base URL, as on Binder
        ("http://buildkitsandbox:8888/", "/", False),  # --ip=0.0.0.0: the host's name
    ],
)
def test_a_laptops_jupyterlab_keeps_the_loopback_redirect(runtime, url, base_url, local):
    runtime(url, base_url)
    assert find_server({}).is_local is local
    if local:  # no browser to ask here: straight to 127.0.0.1, and nothing said
        assert server_proxy.detect(say=pytest.fail, environ={}) is None


@pytest.mark.parametrize(
    ("env", "origin"),
    [
        ({"JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/"}, "https://hub.example.org"),
        (
            {"JUPYTERHUB_PUBLIC_URL": "https://Hub.example.org:8443/x/"},
            "https://hub.example.org:8443",
        ),
        (
            {"JUPYTERHUB_PUBLIC_URL": "", "JUPYTERHUB_HOST": "https://h.example"},
            "https://h.example",
        ),
        ({"JUPYTERHUB_HOST": "h.example"}, None),  # no scheme: not an origin
        ({}, None),
    ],
)
def test_the_hub_gives_the_origin_when_it_knows_it(env, origin):
    assert hub_origin(env) == origin


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("https://hub.example.org", "https://hub.example.org"),
        ("http://127.0.0.1:8888", "http://127.0.0.1:8888"),
        ("https://hub.example.org/path", None),
        ("javascript:alert(1)", None),
        ("https://user@hub.example.org", None),
        ("https://hub.example.org:99999", None),
        ("https://hub.example.org:0", None),
        ("https://hub.example.org:8a", None),
        ("https://hub.example.org:+80", None),
        ("https://hub.example.org:", None),
        ("https://hub.example.org:443", "https://hub.example.org"),  # as the Host header says it
        ("http://127.0.0.1:080", "http://127.0.0.1"),
        ("https://Hub.Example.org:08443/", "https://hub.example.org:8443"),
        ('https://a"b.example', None),
        ("https://a<b>.example", None),
        ("https://a b.example", None),
        ("https://-a.example", None),
        ("https://a..example", None),
        ("https://" + "a" * 64 + ".example", None),
        ("https://999.0.0.1", None),
        ("https://[::1]:8888", "https://[::1]:8888"),
        ("https://[0:0::1]", "https://[::1]"),
        ("https://[::1%25eth0]", None),
        ("https://[example.org]", None),
        ("null", None),  # what a sandboxed frame says
        ("", None),
        (None, None),
    ],
)
def test_only_a_web_origin_is_taken_from_the_browser(text, origin):
    assert parse_origin(text) == origin


# --- the addresses -----------------------------------------------------------------------------


def test_the_browser_facing_addresses_and_the_listeners():
    route = Route("https://hub.example.org", "/user/alice/", 41234)
    path = "/login/oauth2/code/goto"
    assert route.sandbox_url(8765) == "https://hub.example.org/user/alice/proxy/absolute/8765"
    assert route.redirect_uri(path) == (
        "https://hub.example.org/user/alice/proxy/41234/login/oauth2/code/goto"
    )
    assert route.listen_uri(path) == "http://127.0.0.1:41234/login/oauth2/code/goto"
    public_url, pattern = route.front(path)(8765)
    assert public_url == "https://hub.example.org/user/alice/proxy/absolute/8765/"
    assert redirect_uri_matches(pattern, route.redirect_uri(path))
    assert redirect_uri_matches(pattern, Route(route.origin, route.base_url, 5).redirect_uri(path))


@pytest.mark.parametrize(
    ("requested", "matches"),
    [
        ("https://h.example/user/a/proxy/4123/cb", True),
        ("https://h.example/user/a/proxy/65535/cb", True),
        ("https://h.example/user/a/proxy/65536/cb", False),
        ("https://h.example/user/a/proxy/x/cb", False),
        ("https://h.example/user/a/proxy//cb", False),
        ("https://h.example/user/a/proxy/4123/../../b/proxy/1/cb", False),
        ("https://h.example/user/a/proxy/4123/cb?x=1", False),
        ("https://h.example/user/b/proxy/4123/cb", False),
        ("https://evil.example/user/a/proxy/4123/cb", False),
        ("https://h.example/user/a/proxy/４１/cb", False),  # digits, but not ASCII ones
    ],
)
def test_the_sandboxs_own_any_port_rule(requested, matches):
    assert redirect_uri_matches("https://h.example/user/a/proxy/{port}/cb", requested) is matches


# --- the browser's answer, the kernel's probe --------------------------------------------------


def test_the_origin_listener_takes_one_answer_with_its_key():
    with OriginListener() as listener:
        base = f"http://127.0.0.1:{listener.port}"
        assert requests.get(base + "/probe", timeout=5).status_code == 404  # no key, nothing
        answer = requests.get(base + "/probe", params={"key": listener.key}, timeout=5)
        assert listener.key not in answer.text and answer.status_code == 200
        wrong = {"key": "guessed", "origin": "https://evil.example"}
        assert requests.get(base + "/origin", params=wrong, timeout=5).status_code == 404
        bad = {"key": listener.key, "origin": "https://hub.example.org/x"}
        assert requests.get(base + "/origin", params=bad, timeout=5).status_code == 400
        assert listener.origin is None
        good = {"key": listener.key, "origin": "https://hub.example.org"}
        assert requests.get(base + "/origin", params=good, timeout=5).status_code == 204
        later = {"key": listener.key, "origin": "https://other.example"}
        requests.get(base + "/origin", params=later, timeout=5)
        assert listener.origin == "https://hub.example.org"  # the first answer stays
        assert not listener.direct
        assert requests.get(base + "/direct", params={"key": listener.key}, timeout=5).ok
        assert listener.direct  # a browser on this machine
        assert listener.ask_browser("/", timeout=0.1) is None  # no notebook to show it in


class _NoProxy(BaseHTTPRequestHandler):
    """A Jupyter server without jupyter-server-proxy answers 404 for proxy/..."""

    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server_without_proxy():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _NoProxy)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/user/x/"
    httpd.shutdown()
    httpd.server_close()


def test_without_jupyter_server_proxy_a_named_reason_and_the_paste_fallback(
    runtime, server_without_proxy
):
    runtime(server_without_proxy, "/user/x/")
    said = []
    assert server_proxy.detect(say=said.append, environ={}) is None
    assert len(said) == 1 and said[0].startswith("ProxyUnavailable: ")
    assert "no proxy/" in said[0] and "paste" in said[0]
    assert server_proxy.detect(say=said.append, environ={}) is None and len(said) == 1  # once


def test_without_the_browser_s_answer_a_named_reason(runtime):
    # Nothing answers at the server's address: the kernel cannot tell, so the browser is asked,
    # and outside a notebook nobody answers.
    runtime(f"http://127.0.0.1:{free_port()}/user/x/", "/user/x/")
    said = []
    assert server_proxy.detect(say=said.append, environ={}) is None
    assert said[0].startswith("ProxyUnavailable: ") and "the browser did not say" in said[0]


class ScriptedBrowser:
    """JupyterLab and the learner's browser, scripted: shows the origin script's output and
    makes its requests, ``<base>proxy/<port>/…`` sent to ``127.0.0.1:<port>/…`` as
    jupyter-server-proxy sends it (the real ones: tests/browser/test_server_proxy*.py)."""

    def __init__(self, origin: str, *, on_this_machine: bool = False) -> None:
        self.origin, self.on_this_machine = origin, on_this_machine
        self.scripts: list[str] = []

    def display(self, html, display_id=False):
        script = html.data
        self.scripts.append(script)
        urls = [json.loads(text) for text in re.findall(r'"[^"]*\?key=[^"]*"', script)]
        through = next(url for url in urls if "/origin?" in url)
        direct = next((url for url in urls if url.startswith("http://127.0.0.1:")), None)
        if direct and self.on_this_machine:  # the browser's 127.0.0.1 is the kernel's
            requests.get(direct, timeout=5)
        port, rest = re.fullmatch(r"/(?:.+/)?proxy/(\d+)(/.*)", through).groups()
        requests.get(f"http://127.0.0.1:{port}{rest}{quote(self.origin)}", timeout=5)
        return SimpleNamespace(update=lambda html: None)


@pytest.fixture
def browser(monkeypatch):
    """Put a ``ScriptedBrowser`` where the notebook's outputs go: ``browser(origin, ...)``."""
    monkeypatch.setattr("helpers.browser._in_notebook", lambda: True)

    def looking_at(origin: str, **where) -> ScriptedBrowser:
        scripted = ScriptedBrowser(origin, **where)
        monkeypatch.setattr("IPython.display.display", scripted.display)
        return scripted

    return looking_at


@pytest.mark.parametrize(
    ("on_this_machine", "through_the_proxy"),
    [
        (True, False),  # the browser on this machine reached the listener: straight, as today
        (False, True),  # through an SSH tunnel: the browser's 127.0.0.1 is another machine
    ],
)
def test_a_jupyterlab_on_loopback_asks_where_the_browser_is(
    runtime, browser, on_this_machine, through_the_proxy
):
    runtime(f"http://127.0.0.1:{free_port()}/")
    scripted = browser("http://127.0.0.1:8888", on_this_machine=on_this_machine)
    route = server_proxy.detect(say=pytest.fail, environ={})
    assert (route is not None) is through_the_proxy
    assert "http://127.0.0.1:" in scripted.scripts[0]  # the direct try
    if route:
        assert route.redirect_uri("/cb").startswith("http://127.0.0.1:8888/proxy/")


def test_elsewhere_the_browser_is_not_sent_to_its_own_loopback(runtime, browser):
    # On Binder or a hub, an https page fetching http://127.0.0.1 makes Chrome ask the learner
    # for "local network access": only a server on 127.0.0.1 without a base URL tries it.
    runtime(f"http://127.0.0.1:{free_port()}/user/x/", "/user/x/")
    scripted = browser("https://binder.example.org")
    route = server_proxy.detect(say=pytest.fail, environ={})
    assert route.sandbox_url(8765).startswith("https://binder.example.org/user/x/proxy/")
    assert "127.0.0.1" not in scripted.scripts[0]


def test_each_kernel_asks_the_browser_for_the_address_it_uses_now(runtime, browser):
    # The same server opened through a tunnel, then at its own name: a route (and the sandbox's
    # public address) for the old one would get the browser a 421.
    runtime(f"http://127.0.0.1:{free_port()}/user/x/", "/user/x/")
    browser("https://tunnel.example.net")
    assert server_proxy.detect(say=pytest.fail, environ={}).origin == "https://tunnel.example.net"
    server_proxy._routes.clear()  # another kernel
    scripted = browser("https://lab.example.org")
    assert server_proxy.detect(say=pytest.fail, environ={}).origin == "https://lab.example.org"
    assert len(scripted.scripts) == 1


def test_plain_http_to_another_machine_is_refused(runtime):
    runtime(f"http://127.0.0.1:{free_port()}/user/x/", "/user/x/")
    said = []
    env = {"JUPYTERHUB_PUBLIC_URL": "http://hub.example.org/"}
    assert server_proxy.detect(say=said.append, environ=env) is None
    assert "plain http" in said[0]


# --- the sandbox's side ------------------------------------------------------------------------

FRONT = "https://lab.example.org/user/x/proxy/absolute/{port}/"


@pytest.fixture
def fronted(tmp_path, monkeypatch):
    """A sandbox serving its pages under jupyter-server-proxy's prefix (no class)."""
    monkeypatch.delenv("OAUTH_SANDBOX_CLASS_SECRET", raising=False)
    with serve_in_thread(tmp_path / "sandbox", port=0) as running:
        port = int(running.url.rsplit(":", 1)[1])
        public = FRONT.format(port=port)
        pattern = "https://lab.example.org/user/x/proxy/{port}/login/oauth2/code/goto"
        _serve_class(running.app, parse_args(["--public-url", public, "--redirect-uri", pattern]))
        yield running, public.rstrip("/")


def test_the_sign_in_pages_under_the_proxys_prefix_with_the_demo_account(fronted):
    running, front = fronted
    redirect = "https://lab.example.org/user/x/proxy/40123/login/oauth2/code/goto"
    query = urlencode(
        {
            "response_type": "code",
            "client_id": running.info.client_id,
            "redirect_uri": redirect,
            "state": "s" * 20,
            "code_challenge": "c" * 43,
            "code_challenge_method": "S256",
        }
    )
    # jupyter-server-proxy passes the browser's Host header and the whole path on.
    browser = requests.Session()
    browser.headers["Host"] = "lab.example.org"
    local = running.url + front.split("lab.example.org", 1)[1]
    login = browser.get(f"{local}/oauth/authorize?{query}", timeout=10)
    prefix = front.split("lab.example.org", 1)[1]
    assert f'action="{prefix}/oauth/login"' in login.text
    assert running.info.user_email in login.text and 'type="email"' in login.text  # the demo's
    fields = dict(re.findall(r'name="(csrf_token|txn)" value="([^"]+)"', login.text))
    signed_in = browser.post(
        f"{local}/oauth/login",
        data={
            **fields,
            "email": running.info.user_email,
            "password": running.info.user_password,
        },
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.headers["Location"].startswith(f"{prefix}/oauth/consent?")
    consent = browser.get(local + signed_in.headers["Location"][len(prefix) :], timeout=10)
    csrf = dict(re.findall(r'name="(csrf_token|txn)" value="([^"]+)"', consent.text))
    allowed = browser.post(
        f"{local}/oauth/consent",
        data={**csrf, "decision": "allow"},
        allow_redirects=False,
        timeout=10,
    )
    assert allowed.headers["Location"].startswith(redirect + "?code=")
    # The session's cookie is the prefix's, not the whole Jupyter server's; the bare prefix
    # (the address notebook 1 prints) matches it too, so its home page shows the learner in.
    assert re.search(rf"Path={re.escape(prefix)};", signed_in.headers["Set-Cookie"])
    for home in (local, local + "/"):
        assert "Sign out" in browser.get(home, timeout=10).text, home
    assert (
        requests.get(f"{local}/", headers={"Host": "evil.example"}, timeout=10).status_code == 421
    )


def test_the_owners_request_log_under_the_proxys_prefix_with_its_key_only(fronted):
    running, front = fronted
    prefix = front.split("lab.example.org", 1)[1]
    local = running.url + prefix
    browser = requests.Session()
    browser.headers["Host"] = "lab.example.org"  # as jupyter-server-proxy passes it on
    browser.get(f"{local}/oauth/authorize?client_id={running.info.client_id}", timeout=10)
    # No key, or a wrong one: the page that says who may read it, through the proxy too.
    for bare in ("/debug/requests", "/debug/requests?key=guess"):
        refused = browser.get(local + bare, timeout=10)
        assert refused.status_code == 403 and "debug-link" in refused.text
        assert "/oauth/authorize" not in refused.text
    link = request_log_link(_cfg(running.url, front, listen_uri="http://127.0.0.1:40123/cb"))
    assert link.startswith(f"{front}/debug/requests?key="), link
    swapped = browser.get(local + link[len(front) :], allow_redirects=False, timeout=10)
    assert swapped.status_code == 303
    assert swapped.headers["Location"] == f"{prefix}/debug/requests"  # the key leaves the bar
    assert f"Path={prefix}/debug/;" in swapped.headers["Set-Cookie"]
    # The cookie is sent back under the prefix (the session's jar keeps to its Path): a
    # reload of the page reads the log, the learner's own sign-in request in it.
    for _ in range(2):
        page = browser.get(local + swapped.headers["Location"][len(prefix) :], timeout=10)
        assert page.status_code == 200 and "Recent requests" in page.text
        assert f"GET {prefix}/oauth/authorize?client_id=" in page.text
        assert f"{prefix}/debug/" not in page.text  # its own readings are not in it
    home = browser.get(local + "/", timeout=10)
    assert f'href="{prefix}/debug/requests"' in home.text  # the home page's link, prefixed
    # Another name that resolves here gets nothing (DNS rebinding), the log included.
    stranger = requests.get(
        local + "/debug/requests",
        headers={"Host": "evil.example"},
        cookies=browser.cookies,
        timeout=10,
    )
    assert stranger.status_code == 421


def _cfg(service_url, authorize_base_url="", *, listen_uri="", is_sandbox=True):
    return OAuthConfig(
        service_url=service_url,
        client_id="c",
        client_secret="s",
        redirect_uri="http://127.0.0.1:5000/login/oauth2/code/goto",
        is_sandbox=is_sandbox,
        authorize_base_url=authorize_base_url,
        listen_uri=listen_uri,
    )


def test_the_request_log_link_in_each_mode(fronted, capsys):
    running, front = fronted
    key = running.info.debug_url.split("?key=", 1)[1]
    laptop = _cfg(running.url)
    assert request_log_link(laptop) == f"{running.url}/debug/requests?key={key}"
    proxied = _cfg(running.url, front, listen_uri="http://127.0.0.1:40123/cb")
    assert request_log_link(proxied) == f"{front}/debug/requests?key={key}"
    # A class hub's sandbox is the whole class's: no link, one line saying whose it is.
    class_hub = _cfg(running.url, "https://hub.example.org/services/oauth-sandbox")
    assert request_log_link(class_hub) is None
    show_request_log(class_hub)
    assert "only your teacher opens it" in capsys.readouterr().out
    goto = _cfg("https://authentication.logmeininc.com", is_sandbox=False)
    assert request_log_link(goto) is None
    show_request_log(goto)
    assert capsys.readouterr().out == ""  # GoTo has no such page
    show_request_log(proxied)  # outside a notebook: the label and the link, printed
    assert (
        capsys.readouterr().out == f"The sandbox's request log: {front}/debug/requests?key={key}\n"
    )
    # Not the owner (the state file unreadable): the bare page, through the proxy as well.
    nobody = f"http://127.0.0.1:{free_port()}"
    assert request_log_link(_cfg(nobody, front, listen_uri="x")) == f"{front}/debug/requests"


def test_ensure_serving_restarts_a_sandbox_serving_another_address(tmp_path, monkeypatch):
    monkeypatch.delenv("OAUTH_SANDBOX_CLASS_SECRET", raising=False)
    data, port = tmp_path / "sandbox", free_port()

    def front(origin):
        return lambda p: (f"{origin}/x/proxy/absolute/{p}/", f"{origin}/x/proxy/{{port}}/cb")

    try:
        first = ensure_serving(front("https://a.example"), data_dir=data, port=port)
        pid = json.loads((data / "sandbox.json").read_text())["pid"]
        assert ensure_running(data_dir=data, port=port) == first  # no front asked: reused
        ensure_serving(front("https://b.example"), data_dir=data, port=port)
        state = json.loads((data / "sandbox.json").read_text())
        assert state["pid"] != pid
        assert state["public_url"] == f"https://b.example/x/proxy/absolute/{port}/"
        assert "https://b.example/x/proxy/{port}/cb" in state["redirect_uris"]
        assert recorded_info(data).client_id == first.client_id  # the same data folder
    finally:
        stop_running(data_dir=data, port=port)


def test_the_kernel_reaches_pages_behind_its_proxy_as_the_proxy_does(runtime, fronted):
    running, front = fronted  # the sandbox's pages under https://lab.example.org/user/x/...
    route = Route("https://lab.example.org", "/user/x/", 41234)
    server_proxy._routes[(1, "x")] = route
    port = running.url.rsplit(":", 1)[1]
    host = {"Host": "lab.example.org"}
    # proxy/absolute/ keeps the whole path, proxy/<port>/ drops the prefix; both pass the Host.
    assert server_proxy.from_the_kernel(front + "/oauth/authorize?state=s") == (
        f"http://127.0.0.1:{port}/user/x/proxy/absolute/{port}/oauth/authorize?state=s",
        host,
    )
    callback = route.redirect_uri("/cb") + "?code=c"
    assert server_proxy.from_the_kernel(callback) == ("http://127.0.0.1:41234/cb?code=c", host)
    for other in ("https://attacker.example/steal", "https://lab.example.org/user/bob/proxy/1/"):
        assert server_proxy.from_the_kernel(other) == (other, {})
    # The security lab's probe reaches the sandbox's front as the browser does.
    query = {"response_type": "code", "client_id": running.info.client_id, "state": "s" * 20}
    redirect = "https://lab.example.org/user/x/proxy/40123/login/oauth2/code/goto"
    signing_in = lab.probe(
        f"{front}/oauth/authorize?{urlencode({**query, 'redirect_uri': redirect})}"
    )
    assert signing_in.status == 200 and "Sign in" in signing_in.title
    tampered = {**query, "redirect_uri": "https://attacker.example/steal"}
    refused = lab.probe(f"{front}/oauth/authorize?{urlencode(tampered)}")
    assert refused.status == 400 and not refused.redirected
