"""The package's shape: layers one way (import-linter), no import cycle at any level, no private reach-ins."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

import eligibility

PACKAGE = Path(eligibility.__file__).parent
#: The public facade: the package root and the modules that keep public import paths.
FACADE = {"eligibility", "eligibility.__main__", "eligibility.strategies", "eligibility.spark"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # Imports inside functions count (grimp reads every import statement); imports under
    # `if TYPE_CHECKING:` do not run and do not count.
    return grimp.build_graph("eligibility", exclude_type_checking_imports=True, cache_dir=None)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_no_import_cycle_between_modules(graph: grimp.ImportGraph) -> None:
    """No two modules import each other, directly or through others, even inside functions."""
    modules = {m for m in graph.modules if m not in FACADE}
    edges = {m: {x for x in graph.find_modules_directly_imported_by(m) if x in modules} for m in modules}
    assert _cycles(edges) == []


def test_no_import_cycle_between_layers(graph: grimp.ImportGraph) -> None:
    """Collapsed to their layer folders (base, lang, ...), the imports form no cycle either."""
    def layer(module: str) -> str:
        return ".".join(module.split(".")[:2])

    edges: dict[str, set[str]] = {}
    for m in graph.modules:
        if m in FACADE:
            continue
        targets = {layer(x) for x in graph.find_modules_directly_imported_by(m) if x not in FACADE}
        edges.setdefault(layer(m), set()).update(targets - {layer(m)})
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check above can fail: a two-module loop and a three-module loop are reported."""
    edges = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert _cycles(edges) == [["a", "b"], ["c", "d", "e"]]


def _layer_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else ""


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_is_imported_from_another_layer(path: Path) -> None:
    """A module imports no `_private` name from another layer folder; what others need has a public name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = _layer_of(path)
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("eligibility."):
            other = node.module.split(".")[1]
            if other != own:
                bad += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")
                        and not a.name.startswith("__")]
    assert bad == []


def test_lint_imports_passes() -> None:
    """The import-linter contracts in pyproject.toml are kept (a wrong-way import fails this test)."""
    import subprocess
    import sys

    from importlinter.api import read_configuration  # noqa: F401 - the contracts need import-linter installed

    root = PACKAGE.parent.parent
    if not (root / "pyproject.toml").is_file():
        pytest.skip("not run from a source checkout")
    result = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                             "lint_imports_command()"], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_a_pass_that_forgets_a_node_type_fails_when_defined() -> None:
    """A NodeVisitor subclass without a visit method for every node type is refused at class creation."""
    from eligibility.lang.nodes import NODE_TYPES, NodeVisitor

    with pytest.raises(TypeError, match="no visit method for Const, TupleLit"):
        class Forgetful(NodeVisitor):
            def visit_Num(self, node: object) -> None:
                return None
    assert len(NODE_TYPES) == 12


def test_every_pass_is_a_node_visitor() -> None:
    """The checker, code generator, reference interpreter and trace builder all dispatch through NodeVisitor."""
    from eligibility.compile.codegen import _Gen
    from eligibility.engine.trace import _Builder
    from eligibility.lang.checker import Checker
    from eligibility.lang.nodes import NodeVisitor
    from eligibility.testing.interp import Interpretation

    for cls in (Checker, _Gen, Interpretation, _Builder):
        assert issubclass(cls, NodeVisitor) and not cls.partial
