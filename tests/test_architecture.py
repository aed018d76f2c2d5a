"""The layering ARCHITECTURE.md promises, checked on the source: imports only point down a
layer, and no module reaches itself through its imports (function-local imports included).

Layers, top to bottom: faces (cli, server, serverless, api, the package root) > jobs >
workflows > analysis, ops > models > engine > media, inputs > config, errors, logs.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "reelsmith"

LAYERS = {
    "cli": 6, "server": 6, "serverless": 6, "api": 6, "__main__": 6, "": 6,
    "jobs": 5, "workflows": 4, "analysis": 3, "ops": 3, "models": 2, "engine": 1,
    "media": 0, "inputs": 0, "config": -1, "errors": -1, "logs": -1,
}


def _modules() -> dict[str, Path]:
    mods = {}
    for p in PACKAGE.rglob("*.py"):
        if "migrations" in p.parts:
            continue  # Alembic scripts, loaded by path
        parts = ["reelsmith", *p.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    return mods


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (at any depth of the file)."""
    mods = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                           for a in node.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    graph[name].add(t)
                # Importing a.b.c runs the package a.b's __init__ first: an edge too, unless
                # that package is one of the importer's own (already initialising) parents.
                parent = t.rpartition(".")[0]
                while parent and parent != "reelsmith":
                    if not (name == parent or name.startswith(parent + ".")):
                        graph[name].add(parent)
                    parent = parent.rpartition(".")[0]
    return graph


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return LAYERS[top]


def test_every_module_has_a_layer():
    assert [m for m in _modules() if (m.split(".") + [""])[1] not in LAYERS] == []


def test_imports_only_point_down():
    upward = sorted(f"{a} -> {b}" for a, targets in import_graph().items() for b in targets
                    if layer(b) > layer(a))
    assert upward == []


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycles():
    assert find_cycles(import_graph()) == []


def test_the_checks_see_what_they_look_for():
    graph = import_graph()
    # function-local imports are read (the installer opens models inside a function) ...
    assert "reelsmith.models.loader" in graph["reelsmith.models.install"]
    # ... and the old store -> loader import would be a cycle again
    looped = {**graph, "reelsmith.models.store": graph["reelsmith.models.store"] | {"reelsmith.models.loader"}}
    assert find_cycles(looped) != []
    assert layer("reelsmith.media.reader") < layer("reelsmith.engine.context")
