"""Binder builds this repository with repo2docker: ask repo2docker what it would build.

``repo2docker --no-build --debug`` prints the Dockerfile it would build from the repository's
configuration files (``binder/``), with no container engine: the recipe mybinder.org follows.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
START = "?urlpath=lab/tree/notebooks/01_configure.ipynb"


def test_repo2docker_installs_the_readme_requirements_editable_on_the_chosen_python(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "repo2docker", "--no-build", "--debug"]
        + ["--user-id", "1000", "--user-name", "jovyan", str(ROOT)],  # Binder's user
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    recipe = done.stdout + done.stderr
    assert done.returncode == 0, recipe

    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    python = runtime.removeprefix("python-")
    pyproject = (ROOT / "pyproject.toml").read_text()
    requires = re.search(r'^requires-python = "(.+)"$', pyproject, flags=re.M)[1]
    assert python in SpecifierSet(requires)
    assert f"Building conda environment for python={python}" in recipe

    # One install, of the README's requirements (``-e .`` among them), after the repository
    # is copied in: no second ``pip install .`` replacing the editable helpers with a copy.
    installs = re.findall(r"^RUN .*pip install .*$", recipe, flags=re.M)
    assert installs == [
        'RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r "binder/requirements.txt"'
    ], installs
    assert recipe.index("COPY --chown=1000:1000 src/ ${REPO_DIR}/") < recipe.index(installs[0])
    binder_requirements = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert "-r ../requirements.txt" in binder_requirements
    requirements = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^-e \.$", requirements, flags=re.M)
    assert re.search(r"^jupyter-server-proxy\b", requirements, flags=re.M)


def test_readme_launches_binder_on_the_first_notebook():
    readme = (ROOT / "README.md").read_text()
    assert f"https://mybinder.org/v2/gh/<owner>/<repository>/<branch>{START}" in readme
    assert (ROOT / START.rsplit("lab/tree/", 1)[1]).is_file()
