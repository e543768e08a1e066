"""Two learners at once, each in their own Chromium context, run notebook 04 in JupyterLab
through the class hub: Run All, the sign-in link, their own hub name and the password their
notebook shows, Allow, the token card. Then the instructor sees both at "token".
"""

from __future__ import annotations

import json
import re

import pytest

from tests.browser.conftest import VIEWPORT
from tests.browser.test_jupyterlab import Notebook

from .conftest import INSTRUCTOR, LEARNERS, PASSWORD

pytestmark = pytest.mark.browser

TIMEOUT_MS = 90_000  # two JupyterLabs and two kernels starting on a small machine


def _hub_login(context, hub, name: str):
    page = context.new_page()
    page.goto(hub.url + "/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(re.compile(r"/(hub/home|hub/spawn|user/)"))
    return page


def test_two_learners_get_a_token_card_in_jupyterlab_at_the_same_time(chromium, hub):
    for name in LEARNERS:
        hub.start_server(name)
    learners = {}
    for name in LEARNERS:
        context = chromium.new_context(viewport=VIEWPORT, locale="en-US")
        context.set_default_timeout(TIMEOUT_MS)
        page = _hub_login(context, hub, name)
        page.goto(f"{hub.url}/user/{name}/lab/tree/notebooks/04_token_exchange.ipynb?reset")
        notebook = Notebook(page)
        notebook.panel.wait_for()
        notebook.kernel_idle().wait_for()
        learners[name] = (context, notebook)
    try:
        for _, notebook in learners.values():
            notebook.run_all_cells()
        # Both kernels now wait in their listeners at once; each learner signs in in turn.
        for name, (context, notebook) in learners.items():
            where = notebook.output("On JupyterHub").inner_text()
            assert f"Sign in as {name}" in where and "/services/oauth-sandbox" in where
            password = re.search(r"with the password (\w+)", where).group(1)
            link = notebook.panel.get_by_role("link", name="Open the sign-in page").or_(
                notebook.panel.get_by_role("button", name="Open the sign-in page")
            )
            link.wait_for()
            notebook.output("Waiting for you to sign in").wait_for()
            with context.expect_page() as popup_info:
                link.click()
            popup = popup_info.value
            popup.get_by_role("heading", name="Sign in").wait_for()
            assert popup.url.startswith(hub.url + "/services/oauth-sandbox/oauth/authorize?")
            popup.get_by_label("Email").fill(name)
            popup.get_by_label("Password").fill(password)
            popup.get_by_role("button", name="Sign in").click()
            popup.get_by_role("button", name="Allow").click()
            popup.get_by_role("heading", name="Signed in").wait_for()
            assert f"/user/{name}/proxy/" in popup.url  # through the hub, to their own listener
            popup.close()
        for name, (_, notebook) in learners.items():
            card = notebook.panel.locator(
                ".jp-OutputArea-output", has=notebook.page.locator("th", has_text="Access token")
            ).last
            card.wait_for()
            assert name in card.inner_text()  # the principal: the learner's own hub name
            notebook.output("Saved to").wait_for()
            assert not notebook.errors()
            # Saved in the learner's own home, not in one file for the whole class.
            saved = json.loads((hub.state / "home" / name / ".tokens.json").read_text("utf-8"))
            assert saved["principal"] == name
    finally:
        for context, _ in learners.values():
            context.close()

    context = chromium.new_context(viewport=VIEWPORT)
    try:
        page = _hub_login(context, hub, INSTRUCTOR)
        page.goto(hub.url + "/services/oauth-callback/instructor")
        for name in LEARNERS:
            row = page.locator("tr", has=page.locator("td.learner", has_text=name))
            assert row.locator("td.stage").inner_text() == "token"
    finally:
        context.close()
