"""Notebook 01, then 04, in a JupyterLab served under a base URL (as on Binder), signed in by
Chromium through jupyter-server-proxy, with no setting: the kernel finds its server, asks the
browser its address, starts the sandbox with the matching public URL, and the callback comes
back to the kernel's listener through ``<base>proxy/<port>/``.

One ``jupyter lab --ServerApp.base_url=/user/learner/`` for the module; the kernels start the
sandbox themselves, in the module's temporary folder, and it is stopped at the end.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from helpers.sandbox import recorded_info, stop_running
from testing.ports import free_ports
from tests.browser.conftest import ARTIFACTS, ROOT, _unavailable
from tests.browser.test_jupyterlab import (
    LAB_CONFIG,
    LAB_TIMEOUT_MS,
    RUN_TIMEOUT_MS,
    USER_SETTINGS,
    Lab,
    Notebook,
    _in_popup,
    _shut_down_kernels,
    _sign_in_link,
    _wait_until_up,
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
    root = base / "notebooks"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = base / "user-settings"
    for name, values in USER_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values), "utf-8")
    config_dir = base / "config"
    config_dir.mkdir()
    (config_dir / "jupyter_lab_config.json").write_text(json.dumps(LAB_CONFIG), "utf-8")
    sandbox_dir = base / "sandbox"
    port, sandbox_port = free_ports(2)  # distinct: two calls of free_port() may agree
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OAUTH_", "GOTO_"))}
    env.update(
        {
            "OAUTH_SERVICE_URL": "",  # the sandbox, whatever a stray .env above /tmp says
            "OAUTH_SANDBOX_DIR": str(sandbox_dir),
            "OAUTH_SANDBOX_PORT": str(sandbox_port),
            "OAUTH_TOKEN_FILE": str(base / "tokens.json"),
            "BROWSER": "true %s",  # the kernel opens no browser: Chromium clicks the link
            "JUPYTER_CONFIG_DIR": str(config_dir),
            "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
            "IPYTHONDIR": str(base / "ipython"),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
        }
    )
    token = secrets.token_hex(24)
    log = base / "jupyterlab.log"
    args = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.base_url={BASE_URL}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        "--ServerApp.terminals_enabled=False",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT)
    lab = Lab(f"http://127.0.0.1:{port}{BASE_URL.rstrip('/')}", token, base, proc, log)
    try:
        _wait_until_up(lab, LAB_TIMEOUT_MS / 1000)
        yield lab, sandbox_dir
    finally:
        _shut_down_kernels(lab)
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        try:
            stop_running(data_dir=sandbox_dir, port=int(env["OAUTH_SANDBOX_PORT"]))
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, ARTIFACTS / "jupyterlab-proxied.log")


def _open(page, lab: Lab, name: str) -> Notebook:
    page.goto(f"{lab.url}/lab/tree/{name}?reset&token={lab.token}", timeout=LAB_TIMEOUT_MS)
    notebook = Notebook(page)
    notebook.panel.wait_for(timeout=LAB_TIMEOUT_MS)
    notebook.kernel_idle().wait_for(timeout=LAB_TIMEOUT_MS)
    return notebook


def test_notebooks_1_to_4_sign_in_through_the_proxy_under_a_base_url(
    context, page, proxied_lab, shots
):
    lab, sandbox_dir = proxied_lab
    origin = lab.url.split(BASE_URL.rstrip("/"))[0]
    front = f"{origin}{BASE_URL}proxy/"

    notebook = _open(page, lab, "01_configure.ipynb")
    notebook.run_all_cells()
    where = notebook.output("Through Jupyter's proxy")
    where.wait_for(timeout=RUN_TIMEOUT_MS)
    assert f"{front}absolute/" in where.inner_text()  # the browser said its own address
    notebook.output("Talking to:").wait_for(timeout=RUN_TIMEOUT_MS)
    notebook.kernel_idle().wait_for(timeout=RUN_TIMEOUT_MS)
    assert not notebook.errors()
    _shut_down_kernels(lab)

    info = recorded_info(sandbox_dir)  # the sandbox the kernel started, as the kernel saw it
    notebook = _open(page, lab, "04_token_exchange.ipynb")
    notebook.run_all_cells()
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
            shots.take(page, "token-card-through-the-proxy")
    notebook.output("fetch_token: a token for").wait_for(timeout=RUN_TIMEOUT_MS)
    notebook.kernel_idle().wait_for(timeout=RUN_TIMEOUT_MS)
    assert not notebook.errors()


def urlport(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _quoted(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
