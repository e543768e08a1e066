"""Fixtures for the real-browser suite: one headless Chromium per session, a context per test.

Playwright drives the system's Chromium (Debian's ``chromium`` package) through
``executable_path``; it never downloads a browser. Without Playwright or Chromium the suite is
skipped with the reason, except under CI (``CI=true``), where that is a failure.

Every test can take screenshots with the ``shots`` fixture: they land in
``test-artifacts/browser/<test name>/``. A screenshot taken with ``doc="name"`` is also copied
to ``docs/images/name.png`` when ``UPDATE_DOC_IMAGES=1``: that is how the README's pictures are
refreshed (then look at them, and commit the ones that changed)::

    UPDATE_DOC_IMAGES=1 .venv/bin/python -m pytest tests/browser

They are 1000x700 PNGs, passed through ``optipng`` when it is installed. Emoji in the
notebook's status lines need an emoji font (Debian: ``fonts-noto-color-emoji``), or they show
as empty boxes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DOC_IMAGES = ROOT / "docs" / "images"

#: Where Debian (and CI's apt-get) puts Chromium; CHROMIUM overrides it.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
#: Headless, and quiet: with no background networking Chromium never calls out (the machine
#: running the tests may have no network at all).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1000, "height": 700}
#: Default wait for a locator or a navigation, in milliseconds.
TIMEOUT_MS = 15_000


def _unavailable(reason: str):
    """Skip locally; fail under CI, where the browser suite must run."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but the browser suite cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def _chromium_path() -> str | None:
    wanted = os.environ.get("CHROMIUM")
    if wanted:
        return wanted if os.access(wanted, os.X_OK) else None
    for candidate in (*CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


# ``chromium`` (one headless Chromium for the whole session) is in tests/conftest.py: the
# classroom's browser test uses it too, and Playwright's sync API runs one at a time.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the test item, for the failure screenshots below."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _test_folder(request) -> Path:
    return ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")


@pytest.fixture
def context(chromium, request):
    """A fresh browser context (no cookies, no storage) for one test.

    When the test fails, every page still open is saved as ``failure-N.png`` (with its text
    as ``failure-N.txt``) in the test's artifact folder.
    """
    ctx = chromium.new_context(viewport=VIEWPORT, locale="en-US")
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.set_default_navigation_timeout(TIMEOUT_MS)
    yield ctx
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        folder = _test_folder(request)
        folder.mkdir(parents=True, exist_ok=True)
        for n, open_page in enumerate(ctx.pages, 1):
            try:
                open_page.screenshot(path=str(folder / f"failure-{n}.png"), full_page=True)
                text = f"{open_page.url}\n\n{open_page.locator('body').inner_text()}"
                (folder / f"failure-{n}.txt").write_text(text, "utf-8")
            except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the failure
                (folder / f"failure-{n}.txt").write_text(f"no screenshot: {exc}", "utf-8")
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


class Shots:
    """Numbered screenshots of one test, kept as artifacts (and, on request, as doc images)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.update_docs = os.environ.get("UPDATE_DOC_IMAGES") == "1"
        shutil.rmtree(folder, ignore_errors=True)

    def take(self, page, name: str, *, doc: str | None = None, full_page: bool = False) -> Path:
        """Screenshot ``page`` as ``NN-name.png``; with ``doc``, refresh docs/images/doc.png."""
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        if doc and self.update_docs:
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            target = DOC_IMAGES / f"{doc}.png"
            shutil.copyfile(path, target)
            if shutil.which("optipng"):  # lossless, about a fifth smaller; optional
                subprocess.run(["optipng", "-quiet", "-o2", "-strip", "all", str(target)])
        return path


@pytest.fixture
def shots(request) -> Shots:
    return Shots(_test_folder(request))


@pytest.fixture
def sandbox(tmp_path):
    """A real sandbox on a free loopback port, in a thread of this process."""
    from helpers.sandbox import serve_in_thread

    with serve_in_thread(tmp_path / "sandbox", port=0) as running:
        yield running
