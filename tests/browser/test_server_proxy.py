"""Notebook 01, then 04, in a JupyterLab served under a base URL (as on Binder), signed in by
Chromium through jupyter-server-proxy, with no setting: the kernel finds its server, asks the
browser its address, starts the sandbox with the matching public URL, and the callback comes
back to the kernel's listener through ``<base>proxy/<port>/``. The notebook's link to the
sandbox's request log opens there too. 04 is opened at another address of the same server
(``localhost`` instead of ``127.0.0.1``, as a tunnel's and then the server's own name would
be): its kernel asks the browser again and the sandbox moves to that address.

One ``jupyter lab --ServerApp.base_url=/user/learner/`` for the module; the kernels start the
sandbox themselves, in the module's temporary folder, and it is stopped at the end.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from helpers.sandbox import recorded_info, stop_running
from testing.ports import free_ports
from tests.browser.conftest import _unavailable
from tests.browser.test_jupyterlab import (
    LAB_TIMEOUT_MS,
    RUN_TIMEOUT_MS,
    Lab,
    Notebook,
    _in_popup,
    _shut_down_kernels,
    _sign_in_link,
    run_lab,
)

pytestmark = pytest.mark.browser

BASE_URL = "/user/learner/"


@pytest.fixture(scope="module")
def proxied_lab(chromium, tmp_path_factory):
    """``jupyter lab`` under BASE_URL on a copy of notebooks/; its kernels' sandbox folder."""
    try:
        import jupyter_server_proxy  # noqa: F401
    except ImportError:
        _unavailable("jupyter-server-proxy is not installed (pip install -r requirements.txt)")
    base = tmp_path_factory.mktemp("proxied-lab")
    sandbox_dir = base / "sandbox"
    port, sandbox_port = free_ports(2)  # distinct: two calls of free_port() may agree
    kernel_env = {"OAUTH_SANDBOX_DIR": str(sandbox_dir), "OAUTH_SANDBOX_PORT": str(sandbox_port)}
    try:
        with run_lab(base, kernel_env, base_url=BASE_URL, port=port) as lab:
            yield lab, sandbox_dir
            _shut_down_kernels(lab)
    finally:
        stop_running(data_dir=sandbox_dir, port=sandbox_port)


def open_notebook(page, url: str) -> Notebook:
    """Open the notebook at ``url`` in JupyterLab; wait for its kernel."""
    page.goto(url, timeout=LAB_TIMEOUT_MS)
    notebook = Notebook(page)
    notebook.panel.wait_for(timeout=LAB_TIMEOUT_MS)
    notebook.kernel_idle().wait_for(timeout=LAB_TIMEOUT_MS)
    return notebook


def _open(page, url: str, lab: Lab, name: str) -> Notebook:
    return open_notebook(page, f"{url}/lab/tree/{name}?reset&token={lab.token}")


def test_notebooks_1_to_4_sign_in_through_the_proxy_under_a_base_url(
    context, page, proxied_lab, shots
):
    lab, sandbox_dir = proxied_lab
    origin = lab.url.split(BASE_URL.rstrip("/"))[0]
    front = f"{origin}{BASE_URL}proxy/"
    requested = []  # not on the learner's machine: the browser never reaches for its own loopback
    context.on("request", lambda request: requested.append(request.url))

    notebook = _open(page, lab.url, lab, "01_configure.ipynb")
    notebook.run_all_cells()
    where = notebook.output("Through Jupyter's proxy")
    where.wait_for(timeout=RUN_TIMEOUT_MS)
    assert f"{front}absolute/" in where.inner_text()  # the browser said its own address
    notebook.output("Talking to:").wait_for(timeout=RUN_TIMEOUT_MS)
    notebook.kernel_idle().wait_for(timeout=RUN_TIMEOUT_MS)
    assert not notebook.errors()
    _shut_down_kernels(lab)

    info = recorded_info(sandbox_dir)  # the sandbox the kernel started, as the kernel saw it
    elsewhere = lab.url.replace("//127.0.0.1:", "//localhost:")
    front = front.replace("//127.0.0.1:", "//localhost:")
    notebook = _open(page, elsewhere, lab, "04_token_exchange.ipynb")
    notebook.run_all_cells()
    sign_in_twice_in_04(context, page, notebook, front, info, shots)
    assert any("/origin?key=" in url for url in requested)
    assert not [url for url in requested if "/direct?key=" in url]

    # The sandbox's request log, linked where the sign-in pages are: the owner's key is
    # swapped for a cookie under the prefix, and the page shows this learner's requests.
    log = f"{front}absolute/{urlport(info.url)}/debug/requests"
    href = notebook.panel.get_by_role("link", name="The sandbox's request log").get_attribute(
        "href"
    )
    assert href.startswith(log + "?key="), href
    reader = context.new_page()
    try:
        reader.goto(href, timeout=LAB_TIMEOUT_MS)
        assert reader.url == log  # the key left the address bar
        for _ in ("opened", "reloaded"):
            text = reader.locator("main").inner_text()
            assert "Recent requests" in text, text[:300]
            assert f"GET {BASE_URL}proxy/absolute/{urlport(info.url)}/oauth/authorize?" in text
            assert "POST /oauth/token" in text  # the kernel's, on the back channel
            reader.reload(timeout=LAB_TIMEOUT_MS)
        cookie = next(c for c in context.cookies() if c["name"].endswith("_debug"))
        assert cookie["path"] == f"{BASE_URL}proxy/absolute/{urlport(info.url)}/debug/"
        shots.take(reader, "request-log-through-the-proxy")
    finally:
        reader.close()


def sign_in_twice_in_04(context, page, notebook: Notebook, front: str, info, shots=None) -> None:
    """Notebook 04, its cells run, whose sign-ins go through ``front`` (``<origin><base>proxy/``):
    its two sign-in panels answered in the browser, the token card, ``fetch_token``'s line."""
    sandbox = SimpleNamespace(info=info)
    for round_ in ("exchange", "fetch_token"):
        link = _sign_in_link(notebook.panel).last
        link.wait_for(timeout=RUN_TIMEOUT_MS)
        notebook.output("Waiting for you to sign in").wait_for(timeout=RUN_TIMEOUT_MS)
        href = link.get_attribute("href")
        assert href.startswith(f"{front}absolute/{urlport(info.url)}/oauth/authorize?"), href
        assert re.search(r"redirect_uri=" + re.escape(_quoted(front)) + r"\d+%2F", href), href
        _in_popup(context, link.click, sandbox)
        if round_ == "exchange":
            card = notebook.panel.locator(
                ".jp-OutputArea-output", has=page.locator("th", has_text="Access token")
            ).last
            card.wait_for(timeout=RUN_TIMEOUT_MS)
            assert info.user_email in card.inner_text()
            notebook.output("Saved to").wait_for(timeout=RUN_TIMEOUT_MS)
            if shots is not None:
                shots.take(page, "token-card-through-the-proxy")
    notebook.output("fetch_token: a token for").wait_for(timeout=RUN_TIMEOUT_MS)
    notebook.kernel_idle().wait_for(timeout=RUN_TIMEOUT_MS)
    assert not notebook.errors()


def urlport(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _quoted(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
