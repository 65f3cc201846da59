"""poselift's modules import one another without circles and never up the layers (lazy imports count too)."""

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


LAYERS = (
    ("errors", "atomic", "background", "geometry"),
    ("skeleton", "camera", "body_size", "metrics", "array_files", "keypoints_io"),
    ("data",),
    ("models",),
    ("inference", "training", "evaluation"),
    ("export",),
    ("video", "live"),
    ("scenes",),
    ("commands", "cli", "__main__"),
)
"""poselift's layers from the ground up (docs/architecture.md): a module imports only its own layer or below."""


def _layer(module: str) -> int:
    """The layer of a poselift module, by its first name below `poselift` (KeyError for an unplaced one)."""
    top = module.split(".")[1]
    return next(n for n, names in enumerate(LAYERS) if top in names)


def _upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs where a module imports from a higher layer; the package itself is exempt
    (its `__init__` is lazy, and `from poselift import metrics` names the package too)."""
    return [
        (name, target)
        for name in sorted(graph)
        if name != "poselift"
        for target in sorted(graph[name])
        if target != "poselift" and _layer(target) > _layer(name)
    ]


def test_every_module_has_a_layer() -> None:
    for name in _import_graph():
        if name != "poselift":
            _layer(name)


def test_the_layer_check_finds_an_upward_import() -> None:
    graph = {"poselift.data.synthesis": {"poselift.export.rotations"}, "poselift.export.rotations": set()}
    assert _upward_imports(graph) == [("poselift.data.synthesis", "poselift.export.rotations")]


def test_no_import_runs_up_the_layers() -> None:
    assert _upward_imports(_import_graph()) == []


def test_the_search_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c", "a"]]


def test_the_graph_sees_lazy_imports() -> None:
    assert "poselift.models.weights" in _import_graph()["poselift.models.registry"]


def test_no_import_circles() -> None:
    assert _circles(_import_graph()) == []
