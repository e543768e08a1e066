"""Notebooks 01, 05 and 06 in JupyterLab on the class hub, as one learner (alice): Run All, and each
sign-in panel answered in Chromium as its status line asks (Allow, or Deny in 06's last lab),
with her hub name and her class password, through the hub's proxy and the class callback. Then
a tutorial error shown in her notebook, and what the instructor page makes of it all: the
stages from the sandbox, the exercises and the error from her kernel.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
import requests

from helpers.sandbox.hub import class_password
from testing.notebooks import GOALS
from tests.browser.conftest import VIEWPORT
from tests.browser.test_jupyterlab import Notebook, _run_all_following_the_panels

from .conftest import INSTRUCTOR
from .test_lab import TIMEOUT_MS, _hub_login

pytestmark = pytest.mark.browser

NAME = "alice"
#: A learner's slip: loading a token from a file that is not there (NoSavedToken).
SLIP = 'from helpers.tokens import TokenStore\nTokenStore("no-such-tokens.json").load()'


def _open(page, hub, notebook: str) -> Notebook:
    page.goto(f"{hub.url}/user/{NAME}/lab/tree/notebooks/{notebook}.ipynb?reset")
    opened = Notebook(page)
    opened.panel.wait_for()
    opened.kernel_idle().wait_for()
    return opened


def test_notebooks_1_5_and_6_on_the_hub_and_what_the_instructor_sees(chromium, hub):
    hub.start_server(NAME)
    (hub.state / "home" / NAME / "notebooks" / "slip.ipynb").write_text(
        json.dumps(
            {
                "cells": [
                    {"cell_type": "code", "metadata": {}, "source": SLIP, "outputs": []}
                    | {"execution_count": None}
                ],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    # What _in_popup signs in with: her hub name and the password her notebook shows.
    account = SimpleNamespace(
        info=SimpleNamespace(
            user_email=NAME, user_password=class_password(hub.class_secret(), NAME)
        )
    )
    context = chromium.new_context(viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = _hub_login(context, hub, NAME)
        # 01 on the hub: the class's sandbox, none started in her server (it once started a
        # private one on 8765, which the next learner's 01 then found taken).
        notebook = _open(page, hub, "01_configure")
        notebook.run_all_cells()
        notebook.output("The class's sandbox, run by your teacher").wait_for()
        notebook.kernel_idle().wait_for()
        assert not notebook.errors(), notebook.errors()
        outputs = notebook.panel.locator(".jp-OutputArea-output")
        assert outputs.filter(has_text="Using the local sandbox").count() == 0
        assert outputs.filter(has_text="SandboxInfo(").count() == 0
        for name in ("05_calling_the_api", "06_security_lab"):
            notebook = _open(page, hub, name)
            clicked = _run_all_following_the_panels(context, notebook, account)
            assert clicked.count("Allow") >= 1, (name, clicked)
            outputs = notebook.panel.locator(".jp-OutputArea-output")
            for goal in set(GOALS[name]):
                found = outputs.filter(has_text=goal).count()
                assert found >= GOALS[name].count(goal), (name, goal, found)
            assert not notebook.errors(), (name, notebook.errors())
            broken = outputs.filter(has_text="this server does not")  # a defence that failed
            assert broken.all_inner_texts() == []
            # The class sandbox's request log is the whole class's: no link, whose it is.
            assert notebook.panel.get_by_role("link", name="The sandbox's request log").count() == 0
            assert outputs.filter(has_text="request log shows every learner").count() == 1
            assert outputs.filter(has_text="debug-link").count() == 0  # nor how to open it
        assert clicked == ["Allow", "Allow", "Allow", "Deny"]  # 06: labs 1, 3, 4 and 5

        notebook = _open(page, hub, "slip")
        notebook.run_all_cells()
        notebook.panel.locator(".oauth-tutorial-error", has_text="NoSavedToken").wait_for()
    finally:
        context.close()

    twin = hub.url + "/services/oauth-callback/instructor.json"
    token = {"Authorization": f"token {hub.user_token(INSTRUCTOR)}"}
    learner = {}
    for _ in range(50):  # the kernel's reports travel in threads of their own
        learners = requests.get(twin, headers=token, timeout=30).json()["learners"]
        learner = next(entry for entry in learners if entry["name"] == NAME)
        if learner["last_error"]:
            break
        time.sleep(0.2)
    assert learner["status"] == "finished" and learner["stage"] == "revoke"
    assert learner["exercises"].items() >= {"5.1": "right", "5.2": "right", "6.1": "right"}.items()
    assert learner["last_error"]["error"] == "NoSavedToken"
    assert "no-such-tokens.json" in learner["last_error"]["message"]
