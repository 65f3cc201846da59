"""poselift's modules import one another without circles (lazy imports inside functions count too)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


@functools.cache
def _import_graph() -> dict[str, set[str]]:
    """Module name -> the poselift modules it imports anywhere in its source."""
    files = {}
    for path in (SRC / "poselift").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        graph[name] = {target for target in imported if target in files and target != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import circles: each a path from a module back to itself, found by depth-first search."""
    circles, state = [], {}  # state: 1 on the current path, 2 finished

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                circles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return circles


def test_the_search_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c", "a"]]


def test_the_graph_sees_lazy_imports() -> None:
    assert "poselift.models.weights" in _import_graph()["poselift.models.registry"]


def test_no_import_circles() -> None:
    assert _circles(_import_graph()) == []
