"""Notebook 04 with the browser on "another machine", as over ``ssh -L 8888:127.0.0.1:8888``:
Chromium in a network namespace of its own whose only way here is the JupyterLab's port
(testing/tunnel.py). JupyterLab runs on 127.0.0.1 without a base URL, as on a laptop, so the
kernel first asks the browser to reach its own 127.0.0.1; that fails (nothing is forwarded
there), and the sign-in goes through jupyter-server-proxy by itself: no paste, no setting.
"""

from __future__ import annotations

import pytest

from helpers.sandbox import recorded_info, stop_running
from testing import tunnel
from testing.ports import free_ports
from tests.browser.conftest import CHROMIUM_ARGS, VIEWPORT, _chromium_path, _unavailable
from tests.browser.test_jupyterlab import RUN_TIMEOUT_MS, _shut_down_kernels, run_lab
from tests.browser.test_server_proxy import _open, sign_in_twice_in_04

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def tunnelled(chromium, tmp_path_factory):
    """(the lab, its kernels' sandbox folder and port, a Chromium behind a tunnel to it)."""
    why = tunnel.available()
    if why:
        _unavailable(why)
    base = tmp_path_factory.mktemp("tunnelled-lab")
    sandbox_dir = base / "sandbox"
    port, sandbox_port = free_ports(2)
    kernel_env = {"OAUTH_SANDBOX_DIR": str(sandbox_dir), "OAUTH_SANDBOX_PORT": str(sandbox_port)}
    try:
        with run_lab(base, kernel_env, port=port) as lab, tunnel.Tunnel(port) as way:
            far = chromium.browser_type.launch(
                executable_path=way.launcher(_chromium_path()), args=CHROMIUM_ARGS
            )
            try:
                yield lab, sandbox_dir, sandbox_port, far
            finally:
                far.close()
                _shut_down_kernels(lab)
    finally:
        stop_running(data_dir=sandbox_dir, port=sandbox_port)


def test_a_browser_on_another_machine_signs_in_through_the_tunnelled_lab(tunnelled):
    lab, sandbox_dir, sandbox_port, far = tunnelled
    context = far.new_context(viewport=VIEWPORT, locale="en-US")
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    try:
        page = context.new_page()
        # Behind the tunnel, this browser's 127.0.0.1 is its own: the lab's port leads here,
        # the sandbox's does not.
        with pytest.raises(Exception, match="ERR_CONNECTION_REFUSED|ECONNREFUSED"):
            page.request.get(f"http://127.0.0.1:{sandbox_port}/health", timeout=5000)
        notebook = _open(page, lab.url, lab, "04_token_exchange.ipynb")
        notebook.run_all_cells()
        notebook.output("Through Jupyter's proxy").wait_for(timeout=RUN_TIMEOUT_MS)
        info = recorded_info(sandbox_dir)
        sign_in_twice_in_04(context, page, notebook, f"{lab.url}/proxy/", info)
    finally:
        context.close()
    assert any("/direct?key=" in url for url in requested)  # its own loopback, tried in vain
    assert any("/origin?key=" in url for url in requested)  # then its address, via the proxy
