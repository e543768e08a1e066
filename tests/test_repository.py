"""The repository itself: the README's commands, CI, and what must never be committed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_readme_has_exactly_two_commands_setup_and_tests():
    commands = readme_commands()
    assert len(commands) == 2, commands
    assert "jupyter lab" in commands[0] and "requirements.txt" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci_lines
    assert "set -euo pipefail" in ci_lines  # a failing test fails CI


def test_secrets_and_local_state_are_ignored_by_git():
    for path in (".env", ".tokens.json", ".tokens-a1b2.tmp", ".sandbox/sandbox.db", ".venv/x"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert ignored.returncode == 0, f"{path} is not git-ignored"


def test_env_example_names_the_tutorials_four_variables_with_placeholders():
    text = (ROOT / ".env.example").read_text()
    for name in (
        "OAUTH_SERVICE_URL",
        "OAUTH_CLIENT_ID",
        "OAUTH_CLIENT_SECRET",
        "OAUTH_REDIRECT_URI",
    ):
        assert re.search(rf"^{name}=", text, flags=re.M), name
    assert 'OAUTH_CLIENT_SECRET="your-client-secret"' in text


def test_code_and_notebooks_pass_the_linter_and_the_formatter():
    import sys

    ruff = [sys.executable, "-m", "ruff"]
    lint = subprocess.run(
        [*ruff, "check", "--quiet", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run(
        [*ruff, "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
