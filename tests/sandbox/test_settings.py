"""The sandbox's and the token file's settings work from .env as well as from the environment,
and a port held by another folder's sandbox is answered with the one step that moves ours."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.errors import SandboxError
from helpers.sandbox import ensure_running, serve_in_thread
from helpers.sandbox.process import _resolve
from helpers.tokens import default_token_path
from testing.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("OAUTH_SANDBOX_PORT", "OAUTH_SANDBOX_DIR", "OAUTH_SANDBOX_IDLE_EXIT", "OAUTH_TOKEN_FILE")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with a .env, as the working folder, none of the settings in the environment."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # .env is found in a parent, as for notebooks
    return tmp_path


def test_port_folder_and_token_file_come_from_dotenv(project):
    (project / ".env").write_text(
        "OAUTH_SANDBOX_PORT=18765\nOAUTH_SANDBOX_DIR=my-sandbox\nOAUTH_TOKEN_FILE=my-tokens.json\n"
    )
    data_dir, port = _resolve(None, None)
    assert port == 18765
    assert data_dir == (project / "my-sandbox").resolve()  # relative to the .env's folder
    assert default_token_path() == project / "my-tokens.json"


def test_the_environment_wins_over_dotenv(project, monkeypatch):
    (project / ".env").write_text("OAUTH_SANDBOX_PORT=18765\n")
    monkeypatch.setenv("OAUTH_SANDBOX_PORT", "18766")
    assert _resolve(None, None)[1] == 18766


def test_a_bad_port_in_dotenv_is_named(project):
    (project / ".env").write_text("OAUTH_SANDBOX_PORT=eighty\n")
    with pytest.raises(SandboxError, match="OAUTH_SANDBOX_PORT"):
        _resolve(None, None)


def test_every_local_setting_is_listed_commented_out_in_env_example():
    example = (ROOT / ".env.example").read_text()
    for name in NAMES:
        assert re.search(rf"^# {name}=", example, re.M), f"{name} is not in .env.example"


def test_another_folders_sandbox_on_the_port_names_it_and_the_line_to_add(project):
    port = free_port()
    (project / ".env").write_text(f"OAUTH_SANDBOX_PORT={port}\nOAUTH_SANDBOX_DIR=mine\n")
    with serve_in_thread(project / "theirs", port=port) as theirs:
        with pytest.raises(SandboxError) as refused:
            ensure_running(timeout=5)
        message = str(refused.value)
        assert theirs.info.data_dir in message
        offered = re.search(r"OAUTH_SANDBOX_PORT=(\d+) to (\S+)", message)
        assert offered, message
        assert Path(offered.group(2)) == project / ".env"
        # The one step: the helper writes that line, and the next start would use it.
        done = subprocess.run(
            [sys.executable, "-m", "helpers.sandbox", "use-free-port"],
            cwd=project / "notebooks",
            env={"PATH": "", "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        written = _resolve(None, None)[1]
        assert written != port and written > port
        assert (project / ".env").read_text().count("OAUTH_SANDBOX_PORT=") == 1
