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


# -- A door translates; it never decides ------------------------------------------------
#
# Why the rule is sound: deciding on a path or a cookie name takes the request's path
# or cookie names *and* something to match them against. A door must have the first to
# pass it on, so the rule looks for the second, and catches each way it can come into a
# door module (wsgi/, asgi/, django/, flask.py):
#   * from the policy: reading ``policy.cookies``/``.beacons``, calling ``policy.cookie()``/
#     ``.beacon()`` (any receiver whose name ends in "policy"), or ``router_path``;
#   * from the options: a name or attribute ``prefix`` (or ``*_prefix``) compared;
#   * written in the door: a route, that is a str or bytes literal starting with "/" that
#     is more than "/", or a consent cookie's name (its literal, or a name containing
#     COOKIE_NAME), compared with ==, !=, in or not in, matched by a ``case``, or given to
#     startswith/endswith/removeprefix/removesuffix; also inside a tuple, list or set,
#     and through a module-level name bound to one (here or in the consentlib module it
#     is imported from). "/" alone is the segment separator (RFC 3986 §3.3): one
#     character compared with it (``path[i] == "/"``) or a path's end checked for it is
#     parsing, as is the mount point ``root_path`` taken off a path; a whole path
#     compared with "/" is the root route, and counts;
#   * a cookie's name out of a request, to match other literals against: importing re,
#     fnmatch or http.cookies, using SimpleCookie or werkzeug's parse_cookie, the
#     framework's parsed cookies (``request.cookies``, ``request.COOKIES``), or splitting
#     text by hand on ";" or "=" (the Cookie header's separators, RFC 6265 §4.2.1).
# Not seen: another cookie-name literal compared with a name some other module parsed, a
# route built without its leading "/", a policy held under another name, a lookup in a
# dict built from the policy (the read that built it is seen); a reviewer sees those.

# Django's system checks judge the settings once, at start-up (is Django's session cookie
# declared?), not a request: they may look a declaration up.
START_UP_CHECKS = ("consentlib.django.checks",)
DOOR_MODULES = sorted(name for name in modules() if within(name, DOORS) and name not in START_UP_CHECKS)
COOKIE_PARSERS = ("re", "fnmatch", "http.cookies")
PARSER_NAMES = {"SimpleCookie", "BaseCookie", "parse_cookie"}
MATCHERS = {"startswith", "endswith", "removeprefix", "removesuffix"}
SPLITTERS = {"split", "rsplit", "partition", "rpartition"}
COMPARISONS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


def identifier(node: ast.AST) -> str:
    """The name an expression ends in: ``self.core.prefix`` -> "prefix"."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def bindings(tree: ast.Module) -> dict[str, ast.expr]:
    """The module-level names bound once to an expression: ``WELL_KNOWN = "/.well-known/..."``."""
    found: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            found[node.target.id] = node.value
    return found


def _imported_bindings(tree: ast.Module) -> dict[str, ast.expr]:
    """What the names imported from other consentlib modules are bound to there."""
    known = modules()
    found: dict[str, ast.expr] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in known:
            theirs = bindings(ast.parse(known[node.module].read_text(encoding="utf-8")))
            found.update({alias.asname or alias.name: theirs[alias.name] for alias in node.names
                          if alias.name in theirs})
    return found


def matched_against(node: ast.AST, names: dict[str, ast.expr], seen: frozenset[str] = frozenset()) -> str | None:
    """What ``node`` is, when it is a route, the prefix or a consent cookie name (or a
    tuple, list or set holding one, or a module-level name bound to one)."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return next(filter(None, (matched_against(item, names, seen) for item in node.elts)), None)
    name = identifier(node)
    if isinstance(node, ast.Name) and name in names and name not in seen:
        bound = matched_against(names[name], names, seen | {name})
        if bound is not None:
            return bound
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        if value.startswith("/") and value != "/":
            return f"the route {value!r}"
        return f"the consent cookie name {value!r}" if value in (COOKIE_NAME, ID_COOKIE_NAME) else None
    if name.lower() == "prefix" or name.lower().endswith("_prefix"):
        return f"the prefix {ast.unparse(node)}"
    return f"the consent cookie name {name}" if "COOKIE_NAME" in name else None


def _is_slash(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in ("/", b"/")


def door_decisions(source: str) -> list[tuple[int, str]]:
    """(line, what) for each place ``source`` matches a path or a cookie name itself."""
    tree = ast.parse(source)
    names = {**_imported_bindings(tree), **bindings(tree)}
    found: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            found.update((line, f"imports {a.name}") for a in node.names if within(a.name, COOKIE_PARSERS))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            taken = {alias.name for alias in node.names}
            if module == "http.cookies" and not taken & (PARSER_NAMES | {"*"}):
                # Morsel alone is a container: a door hands the framework a cookie line in
                # the shape it keeps them (Django's response.cookies), and parses nothing.
                continue
            if within(module, COOKIE_PARSERS) or (module == "http" and "cookies" in taken):
                found.add((line, f"imports from {module}"))
            else:
                found.update((line, f"imports {name}") for name in taken & (PARSER_NAMES | {"router_path"}))
        elif isinstance(node, ast.Name) and node.id == "router_path":
            found.add((line, "uses router_path"))
        elif isinstance(node, ast.Attribute):
            if node.attr in PARSER_NAMES or node.attr == "router_path":
                found.add((line, f"uses {node.attr}"))
            elif node.attr in ("cookies", "beacons") and identifier(node.value).lower().endswith("policy"):
                found.add((line, f"reads {ast.unparse(node)}"))
            elif node.attr == "COOKIES" or (node.attr == "cookies" and identifier(node.value) == "request"):
                found.add((line, f"reads the request's parsed cookies ({ast.unparse(node)})"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver, first = node.func.attr, node.func.value, node.args[0] if node.args else None
            if method in ("cookie", "beacon") and identifier(receiver).lower().endswith("policy"):
                found.add((line, f"calls {ast.unparse(node.func)}()"))
            elif method in MATCHERS and first is not None and (what := matched_against(first, names)):
                found.add((line, f"{method}() with {what}"))
            elif (method in SPLITTERS and isinstance(first, ast.Constant) and isinstance(first.value, (str, bytes))
                  and any(sep in first.value for sep in (";", "=", b";", b"=") if type(sep) is type(first.value))):
                found.add((line, f"splits text by hand on {first.value!r}"))
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands, operands[1:]):
                if not isinstance(op, COMPARISONS):
                    continue
                what = matched_against(left, names) or matched_against(right, names)
                if what is None and isinstance(op, (ast.Eq, ast.NotEq)) and (
                        (_is_slash(left) and not isinstance(right, ast.Subscript))
                        or (_is_slash(right) and not isinstance(left, ast.Subscript))):
                    what = "the root route '/'"
                if what is not None:
                    found.add((line, f"compares with {what}"))
        elif isinstance(node, ast.MatchValue) and (what := matched_against(node.value, names)):
            found.add((line, f"case {what}"))
    return sorted(found)


def all_door_decisions() -> list[str]:
    found = []
    for name in DOOR_MODULES:
        path = modules()[name]
        lines = path.read_text(encoding="utf-8").splitlines()
        relative = path.relative_to(PACKAGE.parent).as_posix()
        found += [f"{relative}:{line}: {what}: {lines[line - 1].strip()}"
                  for line, what in door_decisions(path.read_text(encoding="utf-8"))]
    return found


def test_no_door_matches_a_path_or_a_cookie_name():
    """A door (wsgi/, asgi/, django/, flask.py) translates its framework's request into
    header text and back; which path is a beacon or an endpoint, and which cookie may
    pass, is decided in consentlib.gate, once for every door."""
    found = all_door_decisions()
    assert not found, ("a door matches a path or a cookie name itself; ask consentlib.gate instead "
                       "(see the comment above DOOR_MODULES):\n" + "\n".join(found))


@pytest.mark.parametrize("source, expected", [
    pytest.param("import re", "imports re", id="re"),
    pytest.param("import fnmatch as f", "imports fnmatch", id="fnmatch"),
    pytest.param("from http.cookies import SimpleCookie", "imports from http.cookies", id="http.cookies"),
    pytest.param("from http import cookies", "imports from http", id="http-cookies-module"),
    pytest.param("from http.cookies import Morsel, SimpleCookie", "imports from http.cookies",
                 id="http.cookies-parser-beside-morsel"),
    pytest.param("from http.cookies import *", "imports from http.cookies", id="http.cookies-star"),
    pytest.param("from werkzeug.http import parse_cookie", "imports parse_cookie", id="werkzeug-parse_cookie"),
    pytest.param("import werkzeug.http\nwerkzeug.http.parse_cookie(h)", "uses parse_cookie", id="parse_cookie-attr"),
    pytest.param("def f():\n    from consentlib.policy import router_path", "imports router_path", id="router_path"),
    pytest.param("n = len(self.policy.cookies)", "reads self.policy.cookies", id="policy.cookies"),
    pytest.param("n = bool(policy.beacons)", "reads policy.beacons", id="policy.beacons"),
    pytest.param("c = core.policy.cookie(name)", "calls core.policy.cookie()", id="policy.cookie()"),
    pytest.param("b = POLICY.beacon(path)", "calls POLICY.beacon()", id="policy.beacon()"),
    pytest.param("c = request.cookies.get('_ga')", "reads the request's parsed cookies (request.cookies)",
                 id="flask-request.cookies"),
    pytest.param("c = request.COOKIES", "reads the request's parsed cookies (request.COOKIES)",
                 id="django-request.COOKIES"),
    pytest.param("pairs = header.split('; ')", "splits text by hand on '; '", id="split-cookie-header"),
    pytest.param("name, _, v = pair.partition(b'=')", "splits text by hand on b'='", id="partition-cookie-pair"),
    pytest.param("ok = path.startswith(self.prefix)", "startswith() with the prefix self.prefix", id="prefix"),
    pytest.param("ok = path.startswith(consent_prefix)", "startswith() with the prefix consent_prefix",
                 id="named-prefix"),
    pytest.param("ok = path.endswith(('/collect', '/px.gif'))", "endswith() with the route '/collect'",
                 id="route-tuple"),
    pytest.param("ok = path == '/collect'", "compares with the route '/collect'", id="route-eq"),
    pytest.param("ok = b'/_consent/' in raw", "compares with the route '/_consent/'", id="route-bytes-in"),
    pytest.param("WELL_KNOWN = '/.well-known/gpc.json'\nok = path != WELL_KNOWN",
                 "compares with the route '/.well-known/gpc.json'", id="route-constant"),
    pytest.param("from consentlib.gate.beacons import GPC_WELL_KNOWN as G\nok = G == p",
                 "compares with the route '/.well-known/gpc.json'", id="route-constant-imported"),
    pytest.param("ok = path == '/'", "compares with the root route '/'", id="root-route"),
    pytest.param("match path:\n    case '/collect':\n        pass", "case the route '/collect'", id="match-case"),
    pytest.param("ok = name == 'consent'", "compares with the consent cookie name 'consent'", id="consent-literal"),
    pytest.param("ok = name in (COOKIE_NAME, ID_COOKIE_NAME)", "compares with the consent cookie name COOKIE_NAME",
                 id="consent-constant"),
    pytest.param("OURS = ('consent', 'consent_id')\nok = name not in OURS", "compares with the consent cookie name 'consent'",
                 id="consent-tuple-constant"),
    pytest.param("from consentlib.testing.judge import CONSENTLIB_COOKIES as C\nok = n in C",
                 "compares with the consent cookie name ALL_COOKIE_NAMES", id="consent-tuple-imported"),
    # Translation, which a door does: nothing found.
    pytest.param("ok = path[len(root)] == '/'", None, id="ok-separator-char"),
    pytest.param("ok = path.startswith(root) and path.endswith('/')", None, id="ok-mount-point"),
    pytest.param("code = int(status.split(' ', 1)[0])", None, id="ok-status-line"),
    pytest.param("ok = name.lower() == 'set-cookie' and 'consentlib' in app.extensions", None, id="ok-header-name"),
    pytest.param("ok = response.cookies.values()", None, id="ok-framework-response-cookies"),
])
def test_the_door_check_sees_each_way_a_door_could_decide(source, expected):
    found = [what for _, what in door_decisions(source)]
    assert found == ([expected] if expected else []), found
