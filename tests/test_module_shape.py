"""The helpers' shape: modules a learner opens read in one sitting, and imports point one way.

Read from the source (line counts, an AST scan of every import, also those inside functions),
so nothing is imported or run; except the last test, which imports ``helpers`` in a new process
to see what it loads.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parents[1] / "helpers"

#: The modules a stage's notebook opens, and the packages whose modules learners meet
#: (a widget, an error's name, an exercise's check).
STAGE_MODULES = ("config", "connect", "authorization", "callback", "tokens", "api")
LEARNER_PACKAGES = ("ui", "errors", "exercises")
MAX_LINES = 300


def _learner_modules() -> list[Path]:
    paths = [HELPERS / f"{name}.py" for name in STAGE_MODULES]
    for name in LEARNER_PACKAGES:  # a module, or a package of modules
        single = HELPERS / f"{name}.py"
        paths += [single] if single.exists() else sorted((HELPERS / name).glob("*.py"))
    return paths


@pytest.mark.parametrize("path", _learner_modules(), ids=lambda p: str(p.relative_to(HELPERS)))
def test_a_module_a_learner_opens_reads_in_one_sitting(path):
    assert path.is_file(), f"{path.relative_to(HELPERS)} is missing"
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, (
        f"helpers/{path.relative_to(HELPERS)} has {lines} lines (at most {MAX_LINES}): move what "
        "serves only the sandbox, the hub, the tests or the widgets into a module of its own"
    )


# --- the import graph ---------------------------------------------------------------------------


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST):
    """Every node, except under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                yield child
                yield from _runtime_nodes(child)
            continue
        yield node
        yield from _runtime_nodes(node)


def import_graph(root: Path = HELPERS) -> dict[str, set[str]]:
    """helpers' module -> the helpers' modules it imports (at the top or inside a function)."""
    paths = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:  # `from . import x` imports the module x
                    sub = f"{module}.{alias.name}"
                    targets.add(sub if sub in paths else module)
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_anywhere_in_helpers():
    assert cycles(import_graph()) == []


def test_config_never_imports_the_sandbox():
    # The sandbox may read .env through config (that arrow points down); connect.load, above
    # both, is what starts the sandbox.
    up = {t for t in import_graph()["helpers.config"] if t.startswith("helpers.sandbox")}
    assert up == set(), f"helpers/config.py imports {sorted(up)}"


def test_the_scan_sees_a_circle_and_an_import_inside_a_function(tmp_path):
    # The checks above can fail: a circle through an import inside a function is found.
    package = tmp_path / "helpers"
    (package / "sandbox").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "config.py").write_text("def load():\n    from . import sandbox\n")
    (package / "sandbox" / "__init__.py").write_text("from ..config import load\n")
    graph = import_graph(package)
    assert graph["helpers.config"] == {"helpers.sandbox"}
    assert cycles(graph) == [["helpers.config", "helpers.sandbox"]]


def test_import_helpers_loads_no_http_client_widgets_or_sandbox():
    """``import helpers`` is what every notebook's first cell pays (bench: "import"): the HTTP
    machinery, the widgets, the sandbox and the hub's reports load when a stage uses them."""
    import subprocess
    import sys

    heavy = ("urllib.request", "http.client", "requests", "oauthlib", "ipywidgets")
    heavy += ("helpers.sandbox", "helpers.ui", "helpers.hub")
    code = f"import helpers, sys; print(sorted(set({heavy!r}) & set(sys.modules)))"
    root = HELPERS.parent
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", f"import helpers loaded {done.stdout.strip()}"
