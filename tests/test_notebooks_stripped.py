"""Committed notebooks carry no outputs, execution counts or widget state.

An output could hold a code, a token or a learner's email; widget state could hold the same.
Contributors get this for free from nbstripout (see .pre-commit-config.yaml); this test makes
sure nothing slipped through.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
EXPECTED = [
    "01_configure",
    "02_authorization_url",
    "03_callback_listener",
    "04_token_exchange",
    "05_calling_the_api",
    "06_security_lab",
]


def test_all_six_notebooks_are_there():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_stripped_and_valid(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert "widgets" not in nb.metadata, "widget state saved in the notebook's metadata"
    for index, cell in enumerate(nb.cells):
        where = f"{path.name}, cell {index}"
        assert "widgets" not in cell.get("metadata", {}), f"{where}: widget state"
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{where}: has outputs"
            assert cell.execution_count is None, f"{where}: has an execution count"
        assert not cell.get("attachments"), f"{where}: has attachments"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_the_tutorial_structure(path):
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    for heading in ("## Overview", "## Prerequisites", "## Summary", "## What's next"):
        assert heading in markdown, f"{path.name}: no {heading!r}"
    assert "```mermaid" in markdown and "rect rgba" in markdown
    for before, cell in zip(nb.cells, nb.cells[1:], strict=False):
        if cell.cell_type == "code" and before.cell_type == "code":
            # Two code cells in a row are allowed only when the first one's output leads on.
            assert len(before.source.splitlines()) <= 3, (
                f"{path.name}: no markdown before {cell.source[:40]!r}"
            )
