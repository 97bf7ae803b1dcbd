"""memlab's import graph, read statically: no module imports itself through others, and
memlab.kernel.abi (the kernel's numbers) imports nothing of memlab.

Every `import memlab...` / `from memlab... import ...` counts, at any depth of a file (a
function-level import is a dependency too), except under `if TYPE_CHECKING:`, which never
runs.  An edge goes to the module named (`from memlab.procfs import auxv` names
memlab.procfs.auxv); a package's __init__ is the package's own node.
"""

from __future__ import annotations

import ast
from pathlib import Path

import memlab

ROOT = Path(memlab.__file__).parent
LEAF = "memlab.kernel.abi"


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ["memlab", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imported_names(tree: ast.AST, module: str, is_package: bool):
    """Every dotted name an import statement of the file refers to."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".")
                if not is_package:
                    pkg.pop()
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            yield base
            yield from (f"{base}.{a.name}" for a in node.names)


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for dotted in _imported_names(tree, name, path.name == "__init__.py"):
            if not (dotted == "memlab" or dotted.startswith("memlab.")):
                continue
            while dotted not in modules:  # `from memlab.x import name`: the module x
                dotted = dotted.rpartition(".")[0]
            if dotted != name:
                deps.add(dotted)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert "memlab.collect" in graph and "memlab.model" in graph["memlab.collect"]
    assert LEAF in graph


def test_no_import_circles():
    graph = import_graph()
    found = cycles(graph)
    detail = ["  " + " ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c)
              for c in found]
    assert not found, "import circles:\n" + "\n".join(detail)


def test_kernel_facts_are_a_leaf():
    graph = import_graph()
    assert graph[LEAF] == set(), graph[LEAF]
    assert graph["memlab.kernel"] == set()


def test_cycles_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# Modules that still spell some kernel numbers themselves; empty this when they import
# them from memlab.kernel.abi.
NOT_YET_ON_THE_LEAF: set[str] = set()


def test_kernel_numbers_are_defined_once():
    """No module assigns a name memlab.kernel.abi defines (AT_RANDOM = 25 again)."""
    from memlab.kernel import abi

    facts = {n for n in vars(abi) if n.isupper()}
    twins = []
    for name, path in _modules().items():
        if name == LEAF or name in NOT_YET_ON_THE_LEAF:
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = (node.targets if isinstance(node, ast.Assign) else
                       [node.target] if isinstance(node, ast.AnnAssign) else [])
            names = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
            twins += [f"{name}: {t.id}" for t in names
                      if isinstance(t, ast.Name) and t.id in facts]
    assert not twins, twins
