"""The shape of consentlib's imports: one core that decides, doors that translate.

Every ``import`` and ``from ... import`` statement of every module under consentlib/ is
read with :mod:`ast`, wherever it stands (module level, inside a function, under
``if TYPE_CHECKING``), absolute or relative. A cycle hidden inside a function is
still a cycle: the two modules cannot be understood, tested or moved one without the
other.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "consentlib"

# The decisions: they know no server interface, so no door may be imported by them.
CORE = ("consentlib.policy", "consentlib.consent", "consentlib.gate", "consentlib.records", "consentlib.store")
# The consent endpoints: they take an EndpointContext, whichever door serves them.
HANDLERS = ("consentlib.web", "consentlib.mail")
DOORS = ("consentlib.middleware", "consentlib.wsgi", "consentlib.asgi", "consentlib.django", "consentlib.flask")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, source: str, known: set[str], *, is_package: bool = False) -> set[str]:
    """The consentlib modules ``name`` imports.

    ``from consentlib.store import Store`` imports consentlib.store; ``from consentlib
    import pages`` imports the package root (whose ``__init__`` runs first, and whose
    names are looked up before the submodule is) and consentlib.pages.
    """
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "consentlib")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "consentlib":
                continue
            # The statement needs ``source`` itself (its __init__ runs and is read first),
            # and loads each name that is a submodule.
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)

    return {module for module in found if module != name and module in known}


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported(name, path.read_text(encoding="utf-8"), known, is_package=path.name == "__init__.py") & known
            for name, path in found.items()}


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
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
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def cycle_in(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """One import cycle through the component's first module, to name in the failure."""
    start = component[0]
    members = set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(edges[node] & members):
            if child == start:
                return paths[node] + [start]
            if child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    return component  # pragma: no cover - a component always has a cycle


def test_the_scanner_sees_every_kind_of_import():
    """The checks below can fail: the scanner finds relative imports and imports inside
    functions, and the cycle finder names a cycle."""
    edges = graph()
    assert "consentlib.django.middleware" in edges["consentlib.django"]  # inside __getattr__
    toy = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(toy) == [["a", "b", "c"]]
    assert cycle_in(["a", "b", "c"], toy) == ["a", "b", "c", "a"]
    source = "def f():\n    from .store import base\n    import consentlib.mail\n    from . import pages\n"
    known = {"consentlib", "consentlib.store", "consentlib.store.base", "consentlib.mail", "consentlib.pages"}
    assert imported("consentlib.probe", source, known) == known


def test_the_import_graph_has_no_cycle():
    edges = graph()
    cycles = [f"{', '.join(component)} (for one: {' -> '.join(cycle_in(component, edges))})"
              for component in strongly_connected(edges)]
    assert not cycles, "consentlib's modules import each other in a cycle: " + "; ".join(cycles)


def test_no_module_imports_the_package_root():
    """``consentlib/__init__.py`` only re-exports: a module that imports it loads every
    door and makes the root part of a cycle."""
    edges = graph()
    offenders = sorted(name for name, targets in edges.items() if "consentlib" in targets)
    assert not offenders, f"these modules import the package root 'consentlib': {offenders}"


@pytest.mark.parametrize("core", CORE + HANDLERS)
def test_the_core_imports_no_door(core):
    """The decisions know no server interface: a core module or an endpoint handler (and
    what it imports, in turn) never loads a WSGI, ASGI, Django or Flask door."""
    edges = graph()
    members = [name for name in edges if name == core or name.startswith(core + ".")]
    seen: set[str] = set()
    todo = list(members)
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo.extend(edges[node])
    doors = sorted(name for name in seen if any(name == d or name.startswith(d + ".") for d in DOORS))
    assert not doors, f"{core} reaches the doors {doors}"


HANDLER_MODULES = sorted(name for name in modules() if any(name == h or name.startswith(h + ".") for h in HANDLERS))


@pytest.mark.parametrize("handler", HANDLER_MODULES)
def test_endpoint_handlers_read_no_private_attribute_of_another_object(handler):
    """What a handler needs of the site is in its context, by a public name: a handler
    that reached for ``site._secure`` would tie it to one door's insides again."""
    path = modules()[handler]
    private = sorted({
        f"{ast.unparse(node.value)}.{node.attr} (line {node.lineno})"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    })
    assert not private, f"{handler} reads private attributes: {private}"
