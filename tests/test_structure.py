"""The shape of the package a newcomer relies on: no room over 600 lines, no import cycle, no
import inside a function without a comment naming the reason."""

from __future__ import annotations

import ast
from pathlib import Path

from fipro import stamps

PACKAGE_DIR = Path(stamps.PACKAGE_DIR)
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> set[str]:
    """``fipro`` modules a module imports when it is imported (its body, not its functions)."""
    current = _module_name(path)
    package = current if path.name == "__init__.py" else current.rpartition(".")[0]
    out: set[str] = set()
    todo = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)  # annotations only: never run
        elif isinstance(node, (ast.If, ast.Try)):  # a guarded import still runs at import time
            todo.extend([*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                         *(s for h in getattr(node, "handlers", []) for s in h.body)])
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "fipro")
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
            if module.split(".")[0] != "fipro":
                continue
            subs = {f"{module}.{a.name}" for a in node.names if stamps.module_path(f"{module}.{a.name}")}
            out.update(subs)
            if len(subs) < len(node.names):  # names defined by the module itself
                out.add(module)
    return {m for m in out if stamps.module_path(m) is not None and m != current}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_of_the_package_is_over_600_lines():
    long = {str(p.relative_to(PACKAGE_DIR.parent)): n for p in PACKAGE_DIR.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_package_has_no_import_cycle():
    graph = {_module_name(p): _top_level_imports(p) for p in PACKAGE_DIR.rglob("*.py")}
    assert "fipro.history" in graph["fipro.quality"]  # the walker sees module-level imports
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _uncommented_local_imports(source: str) -> list[int]:
    """Lines of imports inside a function that name no reason: no comment on the import's lines,
    on the line above, or above the run of imports it belongs to."""
    lines = source.splitlines()
    out = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            above = node.lineno - 2
            while above >= 0 and lines[above].strip().startswith(("import ", "from ")) and "#" not in lines[above]:
                above -= 1  # a run of imports shares the comment above it (or on its first line)
            own = any("#" in lines[i] for i in range(node.lineno - 1, node.end_lineno))
            if not own and not (above >= 0 and "#" in lines[above]):
                out.append(node.lineno)
    return sorted(set(out))


def test_every_import_inside_a_function_names_its_reason():
    found = {f"{p.relative_to(PACKAGE_DIR.parent)}:{n}": p.read_text(encoding="utf-8").splitlines()[n - 1].strip()
             for p in PACKAGE_DIR.rglob("*.py") for n in _uncommented_local_imports(p.read_text(encoding="utf-8"))}
    assert found == {}


def test_the_local_import_check_finds_a_bare_one():
    bare = "def f():\n    x = 1\n    import json\n    return json\n"
    named = "def f():\n    # json only here: a reason\n    import json\n    import os\n    return json, os\n"
    assert _uncommented_local_imports(bare) == [3] and _uncommented_local_imports(named) == []
