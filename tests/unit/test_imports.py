"""The house plan's boundaries: no import cycles in `src/kith`, and imports run one way between
the sides (the connection knows both; marketing and the community know neither each other nor
the connection; the shared kit knows no side). Every import counts, those inside functions too,
and importing a module runs its packages' `__init__` first, so those are imports as well."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import kith

SOURCE = Path(kith.__file__).parent
SIDES = ("kith.community", "kith.marketing", "kith.connection")
# The modules allowed to know every side: process startup, the `kith` command and the demo.
ASSEMBLY = ("kith.app", "kith.cli", "kith.demo", "kith.__main__")
# What each side (and the shared kit: everything else) must never import.
FORBIDDEN = {
    "kith.marketing": ("kith.community", "kith.connection", *ASSEMBLY),
    "kith.community": ("kith.marketing", "kith.connection", *ASSEMBLY),
    "kith.connection": ("kith.community", *ASSEMBLY),
}
SHARED_KIT_FORBIDDEN = (*SIDES, *ASSEMBLY)


def module_names() -> dict[str, Path]:
    modules = {}
    for path in SOURCE.rglob("*.py"):
        parts = ["kith", *path.relative_to(SOURCE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = module_names()


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def imported_by(name: str, path: Path) -> Iterator[str]:
    """The kith modules `name` imports (the module itself when a name is imported from it,
    the submodule when it is one), and the packages their import runs first (but for the
    module's own packages)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.append(submodule if submodule in MODULES else base)
        for target in targets:
            if not target.startswith("kith"):
                continue
            parts = target.split(".")
            for end in range(1, len(parts) + 1):
                enclosing = ".".join(parts[:end])
                # a module's own packages run before it, not because of its imports
                if enclosing in MODULES and not within(name, enclosing):
                    yield enclosing


GRAPH = {name: sorted(set(imported_by(name, path))) for name, path in MODULES.items()}


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One import cycle, as the modules around it, or None (depth-first, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in graph.get(node, []):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_walk_sees_the_imports_it_must_judge() -> None:
    """A walk that found nothing would pass every rule: it must see known imports."""
    assert "kith.marketing.models" in GRAPH["kith.marketing.groups.target_groups"]
    assert "kith.marketing.groups" in GRAPH["kith.connection.sync"]
    assert "kith.marketing.models" in GRAPH["kith.connection.sync"]


def test_find_cycle_reports_a_cycle_and_accepts_a_tree() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None


def test_no_module_of_kith_is_in_an_import_cycle() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("side", [*SIDES, "the shared kit"])
def test_imports_run_one_way_between_the_sides(side: str) -> None:
    if side == "the shared kit":
        importers = [
            name
            for name in GRAPH
            if not any(within(name, prefix) for prefix in (*SIDES, *ASSEMBLY)) and name != "kith"
        ]
        forbidden = SHARED_KIT_FORBIDDEN
    else:
        importers = [name for name in GRAPH if within(name, side)]
        forbidden = FORBIDDEN[side]
    assert importers
    crossings = [
        f"{importer} imports {target}"
        for importer in importers
        for target in GRAPH[importer]
        if any(within(target, prefix) for prefix in forbidden)
    ]
    assert crossings == []
