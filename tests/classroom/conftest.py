"""The class's hub, started once for the session (testing/hubproc.py): two learners
(alice, bob), one who never starts (carol), an instructor (teacher), the built-in
"shared-password" authenticator, local-process servers, the sandbox and the class callback as
hub services. Skipped when JupyterHub or its
proxy is not installed, except under ``CI=true``, where that is a failure (``.ci/run`` installs
both).
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from testing.hubproc import HUB_BIN, PASSWORD, PROXY, start_hub
from tests.browser.test_jupyterlab import LAB_CONFIG, USER_SETTINGS

LEARNERS = ("alice", "bob")
IDLE = "carol"  # on the class list, never signs in: the instructor page shows "not started"
INSTRUCTOR = "teacher"
ADMIN = "hubadmin"  # a hub admin outside the instructors group
__all__ = ["ADMIN", "IDLE", "INSTRUCTOR", "LEARNERS", "PASSWORD"]


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but the classroom hub cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    if not HUB_BIN.exists():
        _unavailable("JupyterHub is not installed (pip install -r requirements-dev.txt)")
    if not PROXY.exists():
        _unavailable("configurable-http-proxy is not installed (npm ci --prefix classroom)")
    try:
        import jupyter_server_proxy  # noqa: F401
    except ImportError:
        _unavailable("jupyter-server-proxy is not installed (pip install -r requirements.txt)")
    work = tmp_path_factory.mktemp("hub")
    # JupyterLab as tests/browser/ runs it: every cell rendered, no news.
    settings = work / "lab-settings"
    for name, values in USER_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values), "utf-8")
    (work / "lab-config").mkdir()
    (work / "lab-config" / "jupyter_lab_config.json").write_text(json.dumps(LAB_CONFIG))
    lab_env = {
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTER_CONFIG_DIR": str(work / "lab-config"),
    }
    with start_hub(
        work,
        learners=(*LEARNERS, IDLE),
        instructors=(INSTRUCTOR,),
        admins=(ADMIN,),
        extra_env=lab_env,
    ) as running:
        yield running
    shutil.rmtree(work / "state" / "home", ignore_errors=True)
