"""The house rules a newcomer relies on: imports flow one way (bench -> pipeline -> serving ->
components) and no module imports itself back through another."""

import ast
from pathlib import Path

from conftest import REPO

LAYERS = ("bench", "pipeline", "serving", "components")  # each may import only those after it


def _modules() -> dict[str, Path]:
    found = {}
    for package in LAYERS:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules a file imports, at any depth of its code (lazy imports too)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, set(modules)) for name, path in modules.items()}


def test_imports_flow_one_way():
    wrong = []
    for module, imported in _graph().items():
        layer = LAYERS.index(module.split(".")[0])
        wrong += [f"{module} imports {target}" for target in imported
                  if LAYERS.index(target.split(".")[0]) < layer]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_module_imports_itself_back():
    graph = _graph()
    # A package's __init__ re-exporting its modules is not a cycle of code: leave those edges out.
    edges = {module: {t for t in targets if not (t.startswith(module + ".") or
                                                 module.startswith(t + "."))}
             for module, targets in graph.items()}
    cycles, state = [], {}

    def visit(module, stack):
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)
