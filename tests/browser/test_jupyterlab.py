"""Notebooks 02 to 06 in a real JupyterLab, signed in by a real Chromium.

The module starts one ``jupyter lab`` (loopback only, a random token, no browser of its own)
on a temporary copy of ``notebooks/``, and one sandbox in this process; the kernel finds the
sandbox through ``OAUTH_SANDBOX_DIR`` / ``OAUTH_SANDBOX_PORT``. The kernel's ``BROWSER`` does
nothing, so the only way to the sign-in page is what a learner sees: the sign-in panel's link.
Chromium clicks it, signs in and clicks the button the panel asks for (Allow, or Deny in 06's
lab) in the tab it opens, and the test watches the panel's status line and the cells after it,
as the learner would. Cells are found by what they show, never by their position, so the
notebooks can grow. A few small notebooks written by the test show what a learner sees of a
named error, of ■ during a wait, and of Shift+Enter on a sign-in cell that is still waiting.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from testing.ports import free_port
from tests.browser.conftest import ARTIFACTS, ROOT, _unavailable

pytestmark = pytest.mark.browser

#: JupyterLab's start-up (and a kernel's) can be slow on a busy CI machine (milliseconds).
LAB_TIMEOUT_MS = 60_000
#: From "Run All Cells" to the sign-in link, and from Allow to the cells after it.
RUN_TIMEOUT_MS = 45_000
REDIRECT_PATH = "/login/oauth2/code/goto"
KERNEL_IDLE = re.compile(r"\(ipykernel\) \| Idle$")

#: User settings for this JupyterLab: render every cell (JupyterLab 4 otherwise skips off-screen
#: ones), and never fetch news or look for updates (the machine may have no network).
USER_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
}
LAB_CONFIG = {
    "LabApp": {
        "news_url": None,
        "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "extension_manager": "readonly",
    },
}


class Lab:
    """A running ``jupyter lab`` and the way in."""

    def __init__(self, url: str, token: str, base: Path, proc: subprocess.Popen, log: Path):
        self.url, self.token, self.proc, self.log = url, token, proc, log
        self.root = base / "notebooks"
        self.token_file = base / "tokens.json"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait_until_up(lab: Lab, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status = f"{lab.url}/api/status?token={lab.token}"
    while time.monotonic() < deadline:
        if lab.proc.poll() is not None:
            pytest.fail(f"jupyter lab exited ({lab.proc.returncode}):\n{lab.log_tail()}")
        try:
            with urllib.request.urlopen(status, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.2)
    pytest.fail(f"jupyter lab did not answer within {timeout:g} s:\n{lab.log_tail()}")


@pytest.fixture(scope="module")
def lab_sandbox(tmp_path_factory):
    from helpers.sandbox import serve_in_thread

    with serve_in_thread(tmp_path_factory.mktemp("lab-sandbox"), port=0) as running:
        yield running


@pytest.fixture(scope="module")
def lab(chromium, lab_sandbox, tmp_path_factory):
    """``jupyter lab`` on a copy of notebooks/, its kernels pointed at ``lab_sandbox``."""
    for module in ("jupyterlab", "ipywidgets", "ipykernel"):
        try:
            __import__(module)
        except ImportError:
            _unavailable(f"{module} is not installed (pip install -r requirements-dev.txt)")
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = base / "user-settings"
    for name, values in USER_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), "utf-8")
    config_dir = base / "config"
    config_dir.mkdir()
    (config_dir / "jupyter_lab_config.json").write_text(json.dumps(LAB_CONFIG), "utf-8")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OAUTH_", "GOTO_"))}
    env.update(
        {
            "OAUTH_SERVICE_URL": "",  # the sandbox, whatever a stray .env above /tmp says
            "OAUTH_SANDBOX_DIR": lab_sandbox.info.data_dir,
            "OAUTH_SANDBOX_PORT": str(lab_sandbox.url.rsplit(":", 1)[1]),
            "OAUTH_REDIRECT_URI": f"http://127.0.0.1:{free_port()}{REDIRECT_PATH}",
            "OAUTH_TOKEN_FILE": str(base / "tokens.json"),
            "BROWSER": "true %s",  # the kernel's webbrowser.open does nothing: Chromium clicks
            "JUPYTER_CONFIG_DIR": str(config_dir),
            "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
            "IPYTHONDIR": str(base / "ipython"),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
        }
    )
    token = secrets.token_hex(24)
    port = free_port()
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
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        "--ServerApp.terminals_enabled=False",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # CI containers run as root
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT)
    running = Lab(f"http://127.0.0.1:{port}", token, base, proc, log)
    try:
        _wait_until_up(running, LAB_TIMEOUT_MS / 1000)
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, ARTIFACTS / "jupyterlab.log")


# --- driving JupyterLab -------------------------------------------------------------------------


def _shut_down_kernels(lab: Lab) -> None:
    """End every session (and its kernel), so no listener outlives its test."""
    api = f"{lab.url}/api/sessions"
    headers = {"Authorization": f"token {lab.token}"}
    try:
        with urllib.request.urlopen(urllib.request.Request(api, headers=headers), timeout=5) as r:
            sessions = json.loads(r.read())
        for session in sessions:
            request = urllib.request.Request(
                f"{api}/{session['id']}", headers=headers, method="DELETE"
            )
            urllib.request.urlopen(request, timeout=10).close()
    except OSError:
        pass


@pytest.fixture
def lab_page(page, lab):
    """A page for JupyterLab; afterwards every kernel the test started is shut down."""
    yield page
    _shut_down_kernels(lab)


class Notebook:
    """The notebook open in JupyterLab's main area (the only visible notebook panel)."""

    def __init__(self, page) -> None:
        self.page = page
        self.panel = page.locator(".jp-NotebookPanel:visible")

    def output(self, text: str):
        """The last output area holding ``text``."""
        return self.panel.locator(".jp-OutputArea-output", has_text=text).last

    def kernel_idle(self):
        # The status bar names the kernel and its state once the kernel has started and
        # answered: "Python 3 (ipykernel) | Idle". (The toolbar's indicator may say idle
        # before that, and "Run All Cells" with no kernel yet only clears the prompts.)
        return self.page.locator(".jp-StatusBar-Widget").get_by_text(KERNEL_IDLE)

    def run_all_cells(self) -> None:
        """Run > Run All Cells, through the menu bar, as a learner would."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    def errors(self) -> list[str]:
        """Tracebacks on stderr, and the tutorial's own errors (shown as their message)."""
        stderr = self.panel.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
        )
        named = self.panel.locator(".oauth-tutorial-error")
        return [
            t for t in stderr.all_inner_texts() if "Traceback" in t or "Error" in t
        ] + named.all_inner_texts()

    def all_cells_ran(self) -> bool:
        """No cell waits to run (``[*]``), and the last code cell has run (``[n]``)."""
        prompts = self.panel.locator(".jp-Cell.jp-CodeCell .jp-InputPrompt")
        # A collapsed cell (an exercise's hidden solution) shows no prompt text: skip it.
        texts = [t.strip() for t in prompts.all_inner_texts() if t.strip()]
        return bool(texts) and "[*]:" not in texts and bool(re.match(r"\[\d+\]:", texts[-1]))


def _open_notebook(page, lab: Lab, name: str) -> Notebook:
    # ?reset: a fresh workspace, so no notebook from an earlier test is reopened beside it.
    page.goto(f"{lab.url}/lab/tree/{name}?reset&token={lab.token}", timeout=LAB_TIMEOUT_MS)
    notebook = Notebook(page)
    notebook.panel.wait_for(timeout=LAB_TIMEOUT_MS)
    notebook.kernel_idle().wait_for(timeout=LAB_TIMEOUT_MS)
    # Fold the file browser away (click its open tab in the left bar): room for the notebook.
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    page.locator("#filebrowser").wait_for(state="hidden")
    return notebook


SIGN_IN_LINK = "Open the sign-in page"
#: The panel's status line while it waits: which button to click, and the time left.
WAITING = re.compile(r"Waiting for you to sign in and click (Allow|Deny)\. \(\d+ s left\)")


def _sign_in_link(where):
    # A link styled as a button (it must work while the kernel is busy waiting): whichever
    # role helpers/ui/ gives it, a learner finds it by its name.
    return where.get_by_role("button", name=SIGN_IN_LINK).or_(
        where.get_by_role("link", name=SIGN_IN_LINK)
    )


def _in_popup(context, press, lab_sandbox, button: str = "Allow", shots=None) -> None:
    """``press()`` opens the sign-in page in a new tab: sign in there (unless this browser is
    signed in already), click ``button`` on the consent page, and close the tab."""
    with context.expect_page() as popup_info:
        press()
    popup = popup_info.value
    login = popup.get_by_role("heading", name="Sign in")
    choice = popup.get_by_role("button", name=button)
    login.or_(choice).first.wait_for()
    if login.is_visible():
        popup.get_by_label("Email").fill(lab_sandbox.info.user_email)
        popup.get_by_label("Password").fill(lab_sandbox.info.user_password)
        popup.get_by_role("button", name="Sign in").click()
    choice.click()
    done = "Signed in" if button == "Allow" else "Access was not granted"
    popup.get_by_role("heading", name=done).wait_for()
    if shots is not None:
        shots.take(popup, "popup-signed-in")
    popup.close()


def _sign_in_in_popup(context, notebook: Notebook, lab_sandbox, shots, *, keyboard=False) -> None:
    """Press the sign-in panel's button (a link); in the tab it opens, sign in and Allow.

    ``keyboard``: focus the button and press Enter instead of clicking it.
    """
    button = _sign_in_link(notebook.panel).last  # the newest panel (notebook 4 signs in twice)
    button.wait_for(timeout=RUN_TIMEOUT_MS)
    # The status line counts down while the kernel waits in listener.wait().
    notebook.output("Waiting for you to sign in").get_by_text(re.compile(r"\d+ s left")).wait_for()
    button.scroll_into_view_if_needed()
    shots.take(notebook.page, "sign-in-panel-waiting", doc="notebook-sign-in-panel")

    def press():
        if keyboard:
            button.focus()
            notebook.page.keyboard.press("Enter")
        else:
            button.click()

    _in_popup(context, press, lab_sandbox, shots=shots)


def _run_all_following_the_panels(context, notebook: Notebook, lab_sandbox) -> list[str]:
    """Run All Cells; whenever a sign-in panel waits, do what its status line asks.

    Returns the buttons clicked, in order, once every cell has run.
    """
    notebook.run_all_cells()
    clicked: list[str] = []
    handled: set[str] = set()
    deadline = time.monotonic() + 4 * RUN_TIMEOUT_MS / 1000
    notebook.page.wait_for_timeout(500)  # the prompts turn to [*] once the cells are queued
    while not notebook.all_cells_ran():
        assert time.monotonic() < deadline, f"the cells did not finish; clicked {clicked}"
        waiting = notebook.panel.locator(".jp-OutputArea-output").filter(has_text=WAITING)
        for i in range(waiting.count()):
            panel = waiting.nth(i)
            link = _sign_in_link(panel)
            href = link.get_attribute("href") or ""
            if href in handled:
                continue
            button = WAITING.search(panel.inner_text()).group(1)
            link.scroll_into_view_if_needed()
            _in_popup(context, link.click, lab_sandbox, button)
            handled.add(href)
            clicked.append(button)
        notebook.page.wait_for_timeout(200)
    return clicked


def _flatten(data, prefix=""):
    """(key path, string value) pairs of a JSON document."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _flatten(value, f"{prefix}{key}.")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _flatten(value, f"{prefix}{i}.")
    elif isinstance(data, str):
        yield prefix, data


def test_notebook_3_listener_receives_the_callback_from_a_real_sign_in(
    context, lab_page, lab, lab_sandbox, shots
):
    notebook = _open_notebook(lab_page, lab, "03_callback_listener.ipynb")
    notebook.run_all_cells()

    # The forged callback ran before the sign-in cell: 403, and the listener kept waiting.
    notebook.output("Listener still waiting: True").wait_for(timeout=RUN_TIMEOUT_MS)
    _sign_in_in_popup(context, notebook, lab_sandbox, shots, keyboard=True)

    notebook.output("Callback received with the right state").wait_for(timeout=RUN_TIMEOUT_MS)
    notebook.output("State matches this attempt: True").wait_for(timeout=RUN_TIMEOUT_MS)
    notebook.output("Listener still running: False").wait_for()
    notebook.kernel_idle().wait_for(timeout=RUN_TIMEOUT_MS)
    assert not notebook.errors()
    notebook.output("Callback received with the right state").scroll_into_view_if_needed()
    shots.take(lab_page, "notebook-3-callback-received")


def test_notebook_4_shows_the_token_card_after_a_real_sign_in(
    context, lab_page, lab, lab_sandbox, shots
):
    notebook = _open_notebook(lab_page, lab, "04_token_exchange.ipynb")
    notebook.run_all_cells()
    _sign_in_in_popup(context, notebook, lab_sandbox, shots)

    notebook.output("Callback received with the right state").wait_for(timeout=RUN_TIMEOUT_MS)
    card = notebook.panel.locator(
        ".jp-OutputArea-output", has=lab_page.locator("th", has_text="Access token")
    ).last
    card.wait_for(timeout=RUN_TIMEOUT_MS)
    text = card.inner_text()
    assert lab_sandbox.info.user_email in text  # the principal
    assert "messaging.v1.send" in text
    assert "(masked)" in text
    assert re.search(r"Expires in \d+ min \d\d s", text), text
    notebook.output("Saved to").wait_for(timeout=RUN_TIMEOUT_MS)
    # The "under the hood" cell signs in once more: fetch_token needs a code of its own.
    _sign_in_in_popup(context, notebook, lab_sandbox, shots)
    notebook.output("fetch_token: a token for").wait_for(timeout=RUN_TIMEOUT_MS)
    notebook.kernel_idle().wait_for(timeout=RUN_TIMEOUT_MS)
    assert not notebook.errors()

    # The token reached the file notebook 5 reads, and never the page in full.
    saved = json.loads(lab.token_file.read_text("utf-8"))
    credentials = [v for k, v in _flatten(saved) if "token" in k and len(v) > 12]
    assert credentials, saved.keys()
    html = lab_page.content()
    assert not [c for c in credentials if c in html], "a token appears in full in the notebook"
    card.scroll_into_view_if_needed()
    shots.take(lab_page, "notebook-4-token-card", doc="notebook-token-card")


def test_notebook_2_prints_the_example_callback_as_one_whole_link(lab_page, lab):
    notebook = _open_notebook(lab_page, lab, "02_authorization_url.ipynb")
    notebook.run_all_cells()
    line = notebook.output("code=<the").locator("pre").last
    line.wait_for(timeout=RUN_TIMEOUT_MS)
    printed = line.inner_text().strip()
    assert printed.startswith("http://127.0.0.1:") and "&state=" in printed
    assert line.locator("a").all_inner_texts() == [printed]  # the whole URL, not up to "<the"


def test_notebook_5_signs_in_when_asked_and_explains_each_refusal(
    context, lab_page, lab, lab_sandbox
):
    notebook = _open_notebook(lab_page, lab, "05_calling_the_api.ipynb")
    clicked = _run_all_following_the_panels(context, notebook, lab_sandbox)
    assert set(clicked) <= {"Allow"}
    assert notebook.output("403 InsufficientScope").count() == 1
    revoked = notebook.output("Refresh refused, InvalidGrant").inner_text()
    assert "refresh token" in revoked and "code" not in revoked.split("InvalidGrant", 1)[1]
    assert not notebook.errors()


def test_notebook_6_walks_every_lab_and_the_last_one_asks_for_deny(
    context, lab_page, lab, lab_sandbox, shots
):
    notebook = _open_notebook(lab_page, lab, "06_security_lab.ipynb")
    clicked = _run_all_following_the_panels(context, notebook, lab_sandbox)
    # Each panel said which button its lab wants: Allow for the attacks on a code, Deny last.
    assert clicked[-1] == "Deny" and clicked.count("Deny") == 1 and "Allow" in clicked, clicked
    denied = notebook.output("AuthorizationDenied:")
    assert "no code was issued" in denied.inner_text()
    assert notebook.panel.get_by_text("Next: click the next cell, then Shift+Enter.").count()
    assert not notebook.errors()
    denied.scroll_into_view_if_needed()
    shots.take(lab_page, "notebook-6-denied")


# --- what a learner sees of an error, of ■, and of Shift+Enter on a waiting sign-in -------------

SETUP = (
    "from helpers import connect, ui\n"
    "from helpers.authorization import AuthorizationRequest\n"
    "cfg = connect.load(quiet=True)"
)


def _scratch_notebook(lab: Lab, name: str, *cells: str) -> str:
    """A small notebook in the lab's folder: the setup cell, then ``cells``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in (SETUP, *cells)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, lab.root / name)
    return name


def test_a_named_error_shows_its_message_and_the_traceback_only_when_asked(lab_page, lab, shots):
    name = _scratch_notebook(
        lab,
        "scratch_timeout.ipynb",
        "ui.wait_for_callback(cfg, AuthorizationRequest.new(cfg), timeout=2, paste=False)",
    )
    notebook = _open_notebook(lab_page, lab, name)
    notebook.run_all_cells()
    error = notebook.panel.locator(".oauth-tutorial-error")
    error.wait_for(timeout=RUN_TIMEOUT_MS)
    assert "CallbackTimeout: No valid callback reached" in error.inner_text()
    assert "Did you sign in and click Allow?" in error.inner_text()  # the advice
    assert "Traceback" not in notebook.panel.inner_text()
    shots.take(lab_page, "named-error-folded")
    error.get_by_text("Where it happened").click()
    error.get_by_text("Traceback (most recent call last)").wait_for()
    assert "CallbackTimeout" in error.locator("pre").inner_text()


def test_stopping_a_wait_with_the_interrupt_button_ends_quietly(lab_page, lab):
    name = _scratch_notebook(
        lab,
        "scratch_interrupt.ipynb",
        "ui.wait_for_callback(cfg, AuthorizationRequest.new(cfg), timeout=120, paste=False)",
    )
    notebook = _open_notebook(lab_page, lab, name)
    notebook.run_all_cells()
    notebook.output("Waiting for you to sign in").get_by_text(re.compile(r"\d+ s left")).wait_for(
        timeout=RUN_TIMEOUT_MS
    )
    lab_page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    lab_page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Interrupt Kernel$")).click()
    notebook.output("Interrupted: stopped waiting").wait_for(timeout=RUN_TIMEOUT_MS)
    text = notebook.panel.inner_text()
    assert "Traceback" not in text and "KeyboardInterrupt" not in text


def test_shift_enter_on_a_waiting_sign_in_cell_starts_no_second_sign_in(
    context, lab_page, lab, lab_sandbox
):
    name = _scratch_notebook(
        lab,
        "scratch_repeat.ipynb",
        "token = ui.sign_in(cfg, timeout=120)",
        'print("The next cell has the token of", token.principal)',
    )
    notebook = _open_notebook(lab_page, lab, name)
    notebook.run_all_cells()
    link = _sign_in_link(notebook.panel)
    link.wait_for(timeout=RUN_TIMEOUT_MS)
    sign_in_cell = notebook.panel.locator(".jp-CodeCell", has=_sign_in_link(lab_page))

    def click_then_shift_enter():
        link.click()  # the learner clicks the panel's link: that cell is now the active one
        sign_in_cell.locator(".jp-InputPrompt").click()  # back in the notebook, on that cell
        lab_page.keyboard.press("Shift+Enter")  # ...and runs it again while it waits

    _in_popup(context, click_then_shift_enter, lab_sandbox)
    notebook.output("The next cell has the token of").wait_for(timeout=RUN_TIMEOUT_MS)
    repeated = notebook.panel.locator(".oauth-tutorial-error", has_text="RepeatedSignIn")
    repeated.wait_for(timeout=RUN_TIMEOUT_MS)
    assert "No second sign-in was started" in repeated.inner_text()
    assert (
        lab_sandbox.info.user_email
        in notebook.output("The next cell has the token of").inner_text()
    )
    assert notebook.panel.locator(".jp-OutputArea-output").filter(has_text=WAITING).count() == 0
