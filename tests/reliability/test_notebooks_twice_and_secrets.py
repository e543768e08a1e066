"""Every notebook with each code cell run twice in a row, and a secrets sweep over everything.

Reuses tests/test_notebooks.py's sandbox fixture and testing/notebooks.py's scripted browser
(``BROWSER``), credential recorder and ``execute``; only the notebooks are doubled copies, with each cell
tagged ``raises-exception`` so one failing cell does not hide the next. Every cell's second run
must succeed. Then nothing secret — client secret, demo password, codes, code verifiers, access
and refresh tokens — may appear in any output, traceback, the sandbox's log (captured at DEBUG,
what ``python -m helpers.sandbox -v`` writes to sandbox.log), the kernels' and the browser's
stderr, or the sandbox's ``/debug/requests`` page. tests/test_notebooks.py already scans the
outputs of a single run; this adds the rest.

Also scanned: the tracked files, for anything that looks like a credential or local state.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
import requests

from testing.notebooks import GOALS, NOTEBOOKS, execute, output_text
from tests.test_notebooks import notebook_env  # noqa: F401 - the fixture, reused

REPO = Path(__file__).resolve().parents[2]


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # What a separate sandbox process would log: its own and oauthlib's records (this
        # process also logs nbclient's kernel traffic, which is not the sandbox's log).
        if record.name.split(".")[0] in ("helpers", "oauthlib", "requests_oauthlib"):
            self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def sandbox_log():
    """Every log record of this process at DEBUG (the in-thread sandbox logs here)."""
    handler = Captured()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("oauthlib").setLevel(logging.INFO)  # as python -m helpers.sandbox does
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


def doubled(name: str, folder: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        for run in (1, 2):
            twin = copy.deepcopy(cell)
            twin.metadata["tags"] = [*twin.metadata.get("tags", []), "raises-exception"]
            twin.metadata["run"] = run
            if "id" in twin:
                twin["id"] = f"{cell['id']}-run{run}"
            cells.append(twin)
    nb.cells = cells
    nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.mark.notebooks
@pytest.mark.parametrize("name", list(GOALS))
def test_each_cell_runs_twice_and_no_secret_shows_anywhere(
    name,
    notebook_env,  # noqa: F811 - the imported fixture
    sandbox_log,
    monkeypatch,
    tmp_path,
    capfd,  # noqa: F811
):
    sandbox, env, root = notebook_env
    doubled(name, tmp_path)
    log_start = len(sandbox_log.lines)
    nb, seen, seconds = execute(name, env, NOTEBOOKS, folder=tmp_path)
    print(f"\n{name} (every cell twice): {seconds:.1f} s")

    failures = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                failures.append(
                    f"cell {index} (run {cell.metadata.get('run')}): {first_line!r} raised "
                    f"{out['ename']}: {out['evalue'][:200]}"
                )
    assert not failures, f"{name}: cells that fail when run again:\n" + "\n".join(failures)

    text = output_text(nb)
    for goal in set(GOALS[name]):
        assert goal in text, f"{name}: no {goal!r} in the outputs"

    secrets = {sandbox.info.client_secret, sandbox.info.user_password, *seen}
    secrets.add(sandbox.info.control_token)  # only the owner may stop it or flip switches
    token_file = Path(env["OAUTH_TOKEN_FILE"])
    if token_file.is_file():
        saved = json.loads(token_file.read_text())
        secrets |= {saved.get("access_token"), saved.get("refresh_token")}
    secrets = {s for s in secrets if s and len(s) >= 8}
    assert len(secrets) >= 2
    captured = capfd.readouterr()
    debug_page = requests.get(sandbox.info.debug_url, timeout=10).text
    assert "Recent requests" in debug_page  # the owner's view, not the refusal
    places = {
        "outputs": text,
        "sandbox log": "\n".join(sandbox_log.lines[log_start:]),
        "kernel/browser stdout": captured.out,
        "kernel/browser stderr": captured.err,
        "/debug/requests": debug_page,
    }
    leaks = [
        f"{where}: …{secret[-4:]}"
        for where, content in places.items()
        for secret in secrets
        if secret in content
    ]
    assert not leaks, f"{name} leaks secrets: {leaks}"


# --- the repository ---------------------------------------------------------------------------

CREDENTIAL_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abpors]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "bearer token": re.compile(r"Bearer [A-Za-z0-9._~+/-]{40,}=*"),
    "assigned secret": re.compile(
        r"(?i)\b(?:OAUTH_CLIENT_SECRET|client_secret|password)\s*[=:]\s*[\"']?"
        r"(?![\"']?(?:your-|<|\{|\$|os\.|getenv|None|\"\"|''))[A-Za-z0-9+/=_-]{24,}"
    ),
}
LOCAL_STATE = re.compile(
    r"(^|/)(\.env|\.tokens[^/]*\.json|tokens\.json|sandbox\.json|[^/]*\.sqlite3[^/]*|"
    r"\.tokens-[^/]*\.tmp|[^/]*\.pem|[^/]*\.key|client_secret[^/]*)$"
)


def test_tracked_files_hold_no_credential_no_local_state_and_no_notebook_output():
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert files
    state = [f for f in files if LOCAL_STATE.search(f)]
    assert not state, f"local state or secrets tracked by git: {state}"
    found = []
    for name in files:
        path = REPO / name
        if not path.is_file() or path.suffix in (".png", ".jpg", ".ico"):
            continue
        content = path.read_text("utf-8", errors="replace")
        found += [
            f"{name}: {what}" for what, rx in CREDENTIAL_PATTERNS.items() if rx.search(content)
        ]
        if name.endswith(".ipynb"):
            nb = json.loads(content)
            outputs = sum(len(c.get("outputs", [])) for c in nb["cells"])
            assert outputs == 0, f"{name} is committed with {outputs} outputs"
    assert not found, f"tracked files that look like they hold credentials: {found}"
    example = (REPO / ".env.example").read_text()
    assert re.search(r'^OAUTH_CLIENT_SECRET="your-client-secret"$', example, re.M)
