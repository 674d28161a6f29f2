"""Import rules of the package, read from the source with ``ast`` (nothing is imported):

- no import circle anywhere in ``fb_commerce`` (module-level imports, ``TYPE_CHECKING`` ones included);
- none in the sandbox even counting imports inside functions (its old circle hid there: the store imported the
  seed and the rules lazily, and they imported the store back);
- the sandbox's world never imports its HTTP face;
- the product code (hooks, operators, domain, DAG files) never imports the sandbox; only the launchers that start it
  (allow-listed below) may.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
PACKAGE = "fb_commerce"
SANDBOX = f"{PACKAGE}.sandbox"

#: modules outside the sandbox allowed to import it: they start it (`fb-commerce sandbox`, `make demo`, the stacks)
LAUNCHERS = {f"{PACKAGE}.cli", f"{PACKAGE}.demo", f"{PACKAGE}.devstack", f"{PACKAGE}.local"}


@dataclass(frozen=True)
class Import:
    """One import statement of a module: the module it names and whether it runs when the module is imported."""

    target: str
    line: int
    module_level: bool


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted((PLUGINS / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(PLUGINS).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import time: the body, and inside top-level ``if`` (``TYPE_CHECKING``) and ``try``."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            yield from _module_level(node.body)
            for handler in node.handlers:
                yield from _module_level(handler.body)
            yield from _module_level(node.orelse)
            yield from _module_level(node.finalbody)


def imports_of(name: str, path: Path) -> list[Import]:
    """The modules ``path`` imports, resolved to dotted names (``from pkg import mod`` names ``pkg.mod``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top = {id(node) for node in _module_level(tree.body)}
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            source = ".".join([*base, node.module] if node.module else base)
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source for alias in node.names
            ]
        else:
            continue
        found += [Import(target, node.lineno, id(node) in top) for target in targets]
    return found


def import_graph(*, module_level_only: bool, within: str = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, for the modules under ``within``."""
    inside = {name for name in MODULES if name == within or name.startswith(f"{within}.")}
    return {
        name: {
            i.target
            for i in imports_of(name, MODULES[name])
            if i.target in inside and i.target != name and (i.module_level or not module_level_only)
        }
        for name in sorted(inside)
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One concrete circle (``[a, b, ..., a]``) per strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_circle_in(graph, group) for group in groups]


def _circle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A path from the group's first module back to itself, staying inside the group (breadth first: shortest)."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & group):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"no circle through {start}")  # unreachable for a strongly connected group


def _show(found: list[list[str]]) -> str:
    return "\n".join(" -> ".join(circle) for circle in found)


# --- the rules ---------------------------------------------------------------------------------------------------


def test_no_import_circle_in_the_package() -> None:
    found = cycles(import_graph(module_level_only=True))
    assert not found, f"import circles (module-level imports):\n{_show(found)}"


def test_no_import_circle_in_the_sandbox_even_inside_functions() -> None:
    found = cycles(import_graph(module_level_only=False, within=SANDBOX))
    assert not found, f"import circles in the sandbox (imports inside functions counted):\n{_show(found)}"


def test_the_sandbox_world_does_not_import_its_http_face() -> None:
    world = f"{SANDBOX}.world"
    wrong = [
        f"{name}:{i.line} imports {i.target}"
        for name, path in MODULES.items()
        if name == world or name.startswith(f"{world}.")
        for i in imports_of(name, path)
        if i.target.startswith(SANDBOX) and not (i.target == world or i.target.startswith(f"{world}."))
    ]
    assert not wrong, "world/ must not depend on http/, server or client:\n" + "\n".join(wrong)


def _dag_files() -> dict[str, Path]:
    return {f"dags.{path.stem}": path for path in sorted((ROOT / "dags").glob("*.py"))}


def test_product_code_does_not_import_the_sandbox() -> None:
    product = {
        name: path
        for name, path in MODULES.items()
        if not (name == SANDBOX or name.startswith(f"{SANDBOX}.")) and name not in LAUNCHERS
    }
    product.update(_dag_files())
    wrong = [
        f"{name}:{i.line} imports {i.target}"
        for name, path in product.items()
        for i in imports_of(name, path)
        if i.target == SANDBOX or i.target.startswith(f"{SANDBOX}.")
    ]
    assert not wrong, (
        "only the launchers (" + ", ".join(sorted(LAUNCHERS)) + ") may import the sandbox:\n" + "\n".join(wrong)
    )


def test_the_launcher_allow_list_names_real_modules() -> None:
    """A launcher renamed or removed must leave the allow-list too, so it cannot silently cover another module."""
    assert set(MODULES) >= LAUNCHERS, sorted(LAUNCHERS - set(MODULES))


def test_the_checks_see_circles_and_sandbox_imports() -> None:
    """The rules above are only as good as the graph: a made-up circle and the CLI's import must be found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert any(i.target.startswith(SANDBOX) for i in imports_of(f"{PACKAGE}.cli", MODULES[f"{PACKAGE}.cli"]))
    relative = imports_of(f"{SANDBOX}.http.app", MODULES[f"{SANDBOX}.http.app"])
    assert f"{SANDBOX}.world.sandbox" in {i.target for i in relative if i.module_level}
