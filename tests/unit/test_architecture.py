"""The shape of consentlib's imports: one core that decides, doors that translate.

Every ``import`` and ``from ... import`` statement of every module under consentlib/ is
read with :mod:`ast`, wherever it stands (module level, inside a function, under
``if TYPE_CHECKING``), absolute or relative. A cycle hidden inside a function is
still a cycle: the two modules cannot be understood, tested or moved one without the
other.

Data flows one way, door -> core -> store: a door (WSGI, ASGI, Django, Flask) turns its
framework's request into plain header text, ``consentlib.gate`` decides on that text,
and the store keeps what was decided. Each rule below has a companion test that runs
the same check on a doctored graph or source and shows that it fails, so no rule
passes only because it cannot see.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from consentlib.consent import COOKIE_NAME, ID_COOKIE_NAME

PACKAGE = Path(__file__).resolve().parents[2] / "consentlib"

# The consent endpoints: they take an EndpointContext, whichever door serves them.
HANDLERS = ("consentlib.web", "consentlib.mail")
DOORS = ("consentlib.middleware", "consentlib.wsgi", "consentlib.asgi", "consentlib.django", "consentlib.flask")
# What each part may not reach, directly or through any module it imports. The gate
# decides on plain text alone: it knows no endpoint, no command line, no test tool and
# no door. The store keeps what the core decided and knows nothing above it.
FLOW = {
    "consentlib.gate": (*HANDLERS, "consentlib.cli", "consentlib.testing", *DOORS),
    "consentlib.web": DOORS,
    "consentlib.mail": DOORS,
    "consentlib.records": DOORS,
    "consentlib.policy": DOORS,
    "consentlib.consent": DOORS,
    "consentlib.store": ("consentlib.gate", *HANDLERS, *DOORS),
}


def within(name: str, packages: tuple[str, ...] | str) -> bool:
    """Whether module ``name`` is one of ``packages`` or below one."""
    packages = (packages,) if isinstance(packages, str) else packages
    return any(name == package or name.startswith(package + ".") for package in packages)


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


def cycles(edges: dict[str, set[str]]) -> list[str]:
    """Each import cycle of ``edges``, named with one path round it."""
    return [f"{', '.join(component)} (for one: {' -> '.join(cycle_in(component, edges))})"
            for component in strongly_connected(edges)]


def root_importers(edges: dict[str, set[str]]) -> list[str]:
    return sorted(name for name, targets in edges.items() if "consentlib" in targets)


def forbidden_reached(edges: dict[str, set[str]], source: str, forbidden: tuple[str, ...]) -> list[str]:
    """The modules of ``forbidden`` that ``source`` (or a module below it) imports,
    directly or through others, each with the chain of imports that reaches it."""
    chains = {name: [name] for name in edges if within(name, source)}
    todo = sorted(chains)
    while todo:
        node = todo.pop(0)
        for child in sorted(edges[node]):
            if child not in chains:
                chains[child] = [*chains[node], child]
                todo.append(child)
    return [" -> ".join(chain) for name, chain in sorted(chains.items()) if within(name, forbidden)]


def test_the_scanner_sees_every_kind_of_import():
    """The checks below can fail: the scanner finds relative imports and imports inside
    functions."""
    edges = graph()
    assert "consentlib.django.middleware" in edges["consentlib.django"]  # inside __getattr__
    source = "def f():\n    from .store import base\n    import consentlib.mail\n    from . import pages\n"
    known = {"consentlib", "consentlib.store", "consentlib.store.base", "consentlib.mail", "consentlib.pages"}
    assert imported("consentlib.probe", source, known) == known


def test_the_import_graph_has_no_cycle():
    found = cycles(graph())
    assert not found, "consentlib's modules import each other in a cycle: " + "; ".join(found)


def test_the_cycle_check_names_a_cycle():
    toy = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(toy) == [["a", "b", "c"]]
    assert cycles(toy) == ["a, b, c (for one: a -> b -> c -> a)"]


def test_no_module_imports_the_package_root():
    """``consentlib/__init__.py`` only re-exports: a module that imports it loads every
    door and makes the root part of a cycle."""
    offenders = root_importers(graph())
    assert not offenders, f"these modules import the package root 'consentlib': {offenders}"


def test_the_root_check_sees_a_module_importing_the_root():
    source = "def render():\n    from consentlib import Policy\n"
    known = {"consentlib", "consentlib.web", "consentlib.web.pages"}
    toy = {"consentlib.web.pages": imported("consentlib.web.pages", source, known), "consentlib": set()}
    assert root_importers(toy) == ["consentlib.web.pages"]


@pytest.mark.parametrize("source", sorted(FLOW))
def test_imports_flow_one_way_from_door_to_core_to_store(source):
    """A core module (and what it imports, in turn) never loads a WSGI, ASGI, Django or
    Flask door; the gate also no endpoint, mail, CLI or test tool; the store nothing above it."""
    reached = forbidden_reached(graph(), source, FLOW[source])
    assert not reached, (
        f"{source} must not import {', '.join(FLOW[source])}, directly or through another module; "
        f"move what it needs below it. It reaches: " + "; ".join(reached))


@pytest.mark.parametrize("source", sorted(FLOW))
def test_the_flow_check_sees_a_forbidden_import_two_steps_away(source):
    """The same check on the real graph doctored with one indirect import per forbidden
    package: source -> a new module -> the forbidden one."""
    real = graph()
    member = sorted(name for name in real if within(name, source))[0]
    for forbidden in FLOW[source]:
        target = sorted(name for name in real if within(name, forbidden))[0]
        doctored = {**real, member: real[member] | {"consentlib.probe"}, "consentlib.probe": {target}}
        assert f"{member} -> consentlib.probe -> {target}" in forbidden_reached(doctored, source, FLOW[source])


HANDLER_MODULES = sorted(name for name in modules() if within(name, HANDLERS))


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
