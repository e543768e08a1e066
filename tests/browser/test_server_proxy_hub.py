"""Notebook 01, then 04, on a JupyterHub single-user server WITHOUT the class's services
(tests/browser/plain_hub_config.py), signed in by Chromium through the server's
jupyter-server-proxy with no setting: the origin is the hub's public URL (JUPYTERHUB_PUBLIC_URL),
the sandbox is the kernel's own, its sign-in pages and the callback under ``/user/learner/proxy/``.

JupyterLab runs with its default windowing here, as a learner's does: cells off screen are in
the page but not laid out, so the test reads their text with ``text_content``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from types import SimpleNamespace

import pytest

from helpers.sandbox import recorded_info, stop_running
from testing.hubproc import HUB_BIN, PASSWORD, PROXY, Hub, run_hub
from testing.ports import free_ports
from tests.browser.conftest import ARTIFACTS, ROOT, _unavailable
from tests.browser.test_jupyterlab import (
    LAB_CONFIG,
    LAB_TIMEOUT_MS,
    RUN_TIMEOUT_MS,
    USER_SETTINGS,
    Notebook,
    _in_popup,
    _sign_in_link,
)
from tests.browser.test_server_proxy import _quoted, open_notebook, urlport

pytestmark = pytest.mark.browser

CONFIG = ROOT / "tests" / "browser" / "plain_hub_config.py"
USER = "learner"


@contextlib.contextmanager
def _plain_hub(work, kernel_env, public, hub_port, api_port):
    url = f"http://127.0.0.1:{public}"
    token = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OAUTH_", "GOTO_"))}
    env.update(
        PLAIN_HUB_URL=url,
        PLAIN_HUB_PORT=str(hub_port),
        PLAIN_HUB_PROXY=str(PROXY),
        PLAIN_HUB_PROXY_API_PORT=str(api_port),
        PLAIN_HUB_PROXY_TOKEN=secrets.token_hex(32),
        PLAIN_HUB_PASSWORD=PASSWORD,
        PLAIN_HUB_ADMIN_TOKEN=token,
        PLAIN_HUB_STATE=str(work),
        **{f"PLAIN_HUB_ENV_{k}": v for k, v in kernel_env.items()},
    )
    try:
        with run_hub(CONFIG, env, work, url, work) as log:
            yield Hub(url, work, token, log, sandbox_port=0, router_port=0)
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / "jupyterhub.log", ARTIFACTS / "jupyterhub-plain.log")


@pytest.fixture(scope="module")
def plain_hub(chromium, tmp_path_factory):
    if not HUB_BIN.exists():
        _unavailable("JupyterHub is not installed (pip install -r requirements-dev.txt)")
    if not PROXY.exists():
        _unavailable("configurable-http-proxy is not installed (npm ci --prefix classroom)")
    work = tmp_path_factory.mktemp("plain-hub")
    home = work / "home" / USER
    shutil.copytree(ROOT / "notebooks", home / "notebooks")
    settings = work / "lab-settings"
    notifications = "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    (settings / notifications).parent.mkdir(parents=True)
    (settings / notifications).write_text(json.dumps(USER_SETTINGS[notifications]), "utf-8")
    (work / "lab-config").mkdir()
    (work / "lab-config" / "jupyter_lab_config.json").write_text(json.dumps(LAB_CONFIG))
    *hub_ports, sandbox_port = free_ports(4)
    sandbox_dir = work / "sandbox"
    kernel_env = {
        "OAUTH_SERVICE_URL": "",
        "OAUTH_SANDBOX_DIR": str(sandbox_dir),
        "OAUTH_SANDBOX_PORT": str(sandbox_port),
        "OAUTH_TOKEN_FILE": str(work / "tokens.json"),
        "BROWSER": "true %s",
        "PYTHONPATH": str(ROOT),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTER_CONFIG_DIR": str(work / "lab-config"),
    }
    try:
        with _plain_hub(work, kernel_env, *hub_ports) as hub:
            yield hub, sandbox_dir
    finally:
        stop_running(data_dir=sandbox_dir, port=sandbox_port)
        shutil.rmtree(home, ignore_errors=True)


def _open(page, hub: Hub, name: str) -> Notebook:
    return open_notebook(page, f"{hub.url}/user/{USER}/lab/tree/notebooks/{name}?reset")


def test_a_hub_without_the_class_services_signs_in_through_the_proxy(context, plain_hub):
    hub, sandbox_dir = plain_hub
    hub.start_server(USER)
    front = f"{hub.url}/user/{USER}/proxy/"

    page = context.new_page()
    page.goto(hub.url + "/hub/login")
    page.fill("#username_input", USER)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"{hub.url}/user/{USER}/**", timeout=LAB_TIMEOUT_MS)
    notebook = _open(page, hub, "01_configure.ipynb")
    notebook.run_all_cells()
    where = notebook.output("Through Jupyter's proxy")
    where.wait_for(timeout=RUN_TIMEOUT_MS)
    assert f"{front}absolute/" in where.text_content()
    notebook.output("Talking to:").wait_for(timeout=RUN_TIMEOUT_MS)
    notebook.kernel_idle().wait_for(timeout=RUN_TIMEOUT_MS)
    assert not _errors(notebook)

    info = recorded_info(sandbox_dir)
    notebook = _open(page, hub, "04_token_exchange.ipynb")
    notebook.run_all_cells()
    link = _sign_in_link(notebook.panel).first
    link.wait_for(timeout=RUN_TIMEOUT_MS)
    notebook.output("Waiting for you to sign in").wait_for(timeout=RUN_TIMEOUT_MS)
    href = link.get_attribute("href")
    assert href.startswith(f"{front}absolute/{urlport(info.url)}/oauth/authorize?"), href
    assert "redirect_uri=" + _quoted(front) in href, href
    _in_popup(context, link.click, SimpleNamespace(info=info))
    card = notebook.panel.locator(
        ".jp-OutputArea-output", has=notebook.page.locator("th", has_text="Access token")
    ).last
    card.wait_for(timeout=RUN_TIMEOUT_MS)
    assert info.user_email in card.text_content()
    notebook.output("Saved to").wait_for(timeout=RUN_TIMEOUT_MS)
    assert not _errors(notebook)


def _errors(notebook: Notebook) -> list[str]:
    """``Notebook.errors``, read from the page whether laid out or not."""
    stderr = notebook.panel.locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    )
    named = notebook.panel.locator(".oauth-tutorial-error")
    texts = stderr.all_text_contents()
    return [t for t in texts if "Traceback" in t or "Error" in t] + named.all_text_contents()
