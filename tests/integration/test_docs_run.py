"""Each framework's quick start runs as pasted into a new project.

A block of docs/quickstart.md marked ``<!-- run: EXAMPLE PATH -->`` (``... PATH appended -->``
for lines added to the end of a file a command made) is written to PATH in an empty
directory; a subprocess imports what the blocks built and drives requests through it
with the framework's own test client. The glue here only sends requests: whatever an
example needs (its policy, its keys, its settings) must come from its blocks, or from
what the page tells the reader to run (an environment variable, ``startproject``).
README.md's snippets are held to the run blocks line by line.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "docs" / "quickstart.md"
README = ROOT / "README.md"
FRAMEWORKS = ("flask", "wsgi", "fastapi", "django")
# What the page tells the reader to export before running the example.
ENV = {"CONSENT_SECRET_KEY": "consent-secret-key-for-the-docs-test", "APP_SECRET_KEY": "app-secret-key-for-the-docs"}

RUN = re.compile(r"^<!-- run: (?P<example>[\w-]+) (?P<path>\S+)(?P<appended> appended)? -->\n"
                 r"```[\w-]*\n(?P<code>.*?)^```", re.S | re.M)
COOKIE_LINES = re.compile(r"^<!-- cookie lines: .*? -->\n```python\n(?P<code>.*?)^```", re.S | re.M)
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<code>.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    path: str
    code: str
    appended: bool


def run_blocks(markdown: str) -> dict[str, list[Block]]:
    """The marked blocks of a page, by example, in page order."""
    examples: dict[str, list[Block]] = {}
    for match in RUN.finditer(markdown):
        examples.setdefault(match["example"], []).append(Block(match["path"], match["code"], bool(match["appended"])))
    return examples


def _write(blocks: list[Block], where: Path) -> None:
    written: set[str] = set()
    for block in blocks:
        target = where / block.path
        if block.appended:
            assert target.exists(), f"{block.path} is marked appended, but nothing the page runs made it"
            target.write_text(target.read_text() + "\n" + block.code)
            continue
        assert block.path not in written, f"two blocks of the example are both {block.path}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.code)
        written.add(block.path)


def _run(where: Path, script: str, **env: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script], cwd=where, capture_output=True, text=True, timeout=240,
                          env={**os.environ, **ENV, **env, "PYTHONPATH": f"{where}{os.pathsep}{ROOT}"})
    assert done.returncode == 0, f"the example failed as pasted:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.splitlines()[-1])


# Each driver prints what a visitor's browser would see: the status, the cookies set
# (name: value; a deleted cookie has an empty value) and the page.
WERKZEUG = """
import json
from werkzeug.test import Client
from {module} import {name} as app

def seen(r):
    cookies = {{}}
    for line in r.headers.getlist("Set-Cookie"):
        name, _, rest = line.partition("=")
        cookies[name] = rest.split(";")[0]
    return {{"status": r.status_code, "cookies": cookies, "text": r.get_data(as_text=True)}}

client = Client(app)
first = seen(client.get("/"))
chosen = seen(client.post("/_consent/", data={{"action": "accept_all"}}, headers={{"Origin": "http://localhost"}}))
after = seen(client.get("/"))
print(json.dumps({{"first": first, "chosen": chosen, "after": after}}))
"""

STARLETTE = """
import json
from starlette.testclient import TestClient
from main import app

def seen(r):
    cookies = {}
    for line in r.headers.get_list("set-cookie"):
        name, _, rest = line.partition("=")
        cookies[name] = rest.split(";")[0]
    return {"status": r.status_code, "cookies": cookies, "text": r.text}

with TestClient(app) as client:
    first = seen(client.get("/"))
    chosen = seen(client.post("/_consent/", data={"action": "accept_all"}, headers={"Origin": "http://testserver"},
                              follow_redirects=False))
    after = seen(client.get("/"))
print(json.dumps({"first": first, "chosen": chosen, "after": after}))
"""

# What the page tells the reader to run (migrate, createsuperuser), then a visit and a
# login to the admin through django.test.Client, CSRF checks on as in a browser.
DJANGO = """
import json, re
import django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()  # lets django.test.Client's host, testserver, in
from django.contrib.auth.models import User
from django.core import checks, management
from django.test import Client

def seen(r):
    cookies = {name: morsel.value for name, morsel in r.cookies.items()}
    return {"status": r.status_code, "cookies": cookies, "text": r.content.decode(), "location": r.get("Location")}

warnings = [f"{m.id}: {m.msg}" for m in checks.run_checks() if (m.id or "").startswith("consentlib")]
management.call_command("migrate", verbosity=0)
User.objects.create_superuser("ana", "ana@example.com", "correct horse battery staple")
client = Client(enforce_csrf_checks=True)
first = seen(client.get("/"))
form = seen(client.get("/admin/login/?next=/admin/"))
token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form["text"]).group(1)
login = seen(client.post("/admin/login/?next=/admin/", {"username": "ana", "password": "correct horse battery staple",
                                                        "csrfmiddlewaretoken": token, "next": "/admin/"}))
admin = seen(client.get("/admin/"))
chosen = seen(client.post("/_consent/", {"action": "accept_all"}, headers={"Origin": "http://testserver"}))
after = seen(client.get("/"))
print(json.dumps({"checks": warnings, "first": first, "form": form, "login": login, "admin": admin,
                  "chosen": chosen, "after": after}))
"""


def _example(name: str, tmp_path: Path) -> Path:
    blocks = run_blocks(QUICKSTART.read_text(encoding="utf-8")).get(name)
    assert blocks, f"docs/quickstart.md lost its runnable {name} example (<!-- run: {name} PATH --> blocks)"
    project = tmp_path / "project"
    project.mkdir()
    if name == "django":
        # The page's first command: `django-admin startproject mysite .`
        subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", "."], cwd=project, check=True,
                       timeout=120)
    _write(blocks, project)
    return project


def _assert_gated(seen: dict) -> None:
    """What a new user checks in the browser: the banner asks, `_ga` waits for consent,
    "Accept all" records the choice in the consent cookie, and then `_ga` is set."""
    first, chosen, after = seen["first"], seen["chosen"], seen["after"]
    assert first["status"] == 200, first["text"][:500]
    assert "/_consent/banner." in first["text"], "the banner's tags are not in the page"
    assert not first["cookies"].get("_ga"), "a cookie the visitor never allowed was set before a choice"
    assert chosen["status"] == 303, chosen["text"][:500]
    assert chosen["cookies"].get("consent"), "'Accept all' did not set the consent cookie"
    assert after["cookies"].get("_ga"), "after 'Accept all' the analytics cookie is still refused"


@pytest.mark.parametrize(
    ("example", "driver"),
    [
        pytest.param("flask", WERKZEUG.format(module="app", name="app"), id="flask"),
        pytest.param("wsgi", WERKZEUG.format(module="app", name="app"), id="wsgi"),
        pytest.param("fastapi", STARLETTE, id="fastapi"),
    ],
)
def test_quickstart_runs_as_pasted(example, driver, tmp_path):
    if example == "fastapi":
        pytest.importorskip("fastapi")
        pytest.importorskip("httpx")  # starlette's TestClient
    project = _example(example, tmp_path)
    _assert_gated(_run(project, driver))
    assert (project / "consent.db").exists(), "the choice is not recorded where the example says"


def test_quickstart_django_runs_as_pasted_and_the_admin_login_works(tmp_path):
    pytest.importorskip("django")
    project = _example("django", tmp_path)
    seen = _run(project, DJANGO, DJANGO_SETTINGS_MODULE="mysite.settings")
    # manage.py check has nothing to say: Django's own cookies are declared, the
    # middleware is first, the store's path is absolute.
    assert seen["checks"] == []
    _assert_gated(seen)
    # The login a new Django user tries first: CSRF cookie set before any choice
    # (a necessary cookie), the login accepted, the admin served to the session.
    assert seen["form"]["cookies"].get("csrftoken"), "the admin's login form came without its CSRF cookie"
    assert seen["login"]["status"] == 302 and seen["login"]["location"] == "/admin/", seen["login"]["text"][:800]
    assert seen["login"]["cookies"].get("sessionid"), "the login did not set the session cookie"
    assert seen["admin"]["status"] == 200 and "Site administration" in seen["admin"]["text"]
    assert (project / "consent.db").exists()


def test_every_python_block_of_the_quick_start_is_run():
    # A block added without a mark would be the one that does not run as pasted.
    text = QUICKSTART.read_text(encoding="utf-8")
    marked = {block.code for blocks in run_blocks(text).values() for block in blocks}
    marked |= {m["code"] for m in COOKIE_LINES.finditer(text)}  # checked below
    unmarked = [m["code"][:80] for m in FENCE.finditer(text) if m["lang"] == "python" and m["code"] not in marked]
    assert not unmarked, f"docs/quickstart.md has python blocks no test runs; mark them <!-- run: ... -->: {unmarked}"
    assert set(FRAMEWORKS) <= set(run_blocks(text)), "a framework's quick start lost its run marks"


def test_the_cookie_lines_for_a_login_that_stopped_working_declare_the_frameworks_own_cookies():
    # "My login stopped working": the lines to paste must build, and name the cookies the
    # frameworks really set by default, or the reader pastes a fix that fixes nothing.
    from django.conf import global_settings
    from django.contrib.messages.storage.cookie import CookieStorage
    from flask import Flask

    from consentlib import Cookie

    match = COOKIE_LINES.search(QUICKSTART.read_text(encoding="utf-8"))
    assert match, "docs/quickstart.md lost its Cookie(...) lines for Django's and Flask's own cookies"
    namespace = {"Cookie": Cookie}
    exec(compile(f"COOKIES = [\n{match['code']}]", str(QUICKSTART), "exec"), namespace)  # noqa: S102 - our docs
    declared = {cookie.name: cookie.category for cookie in namespace["COOKIES"]}
    necessary = {global_settings.SESSION_COOKIE_NAME, global_settings.CSRF_COOKIE_NAME, CookieStorage.cookie_name,
                 Flask.default_config["SESSION_COOKIE_NAME"]}
    assert {name for name, category in declared.items() if category == "necessary"} >= necessary
    assert declared.get(global_settings.LANGUAGE_COOKIE_NAME) == "preferences"  # a choice, not a necessity


def _code_lines(code: str) -> list[str]:
    """A block's lines without comments, blank lines and indentation."""
    lines = (re.sub(r"\s+#\s.*$", "", line).strip() for line in code.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_readme_snippets_are_lines_of_the_quick_starts_that_run():
    # The front page's snippets are the run examples' lines, so they are as true as those.
    run = {line for blocks in run_blocks(QUICKSTART.read_text(encoding="utf-8")).values()
           for block in blocks for line in _code_lines(block.code)}
    readme = [m["code"] for m in FENCE.finditer(README.read_text(encoding="utf-8")) if m["lang"] == "python"]
    assert readme, "README.md has no python snippet left to check"
    stray = [line for code in readme for line in _code_lines(code) if line not in run]
    assert not stray, "README.md has snippet lines that no quick start example runs:\n" + "\n".join(stray)


def _consentlib_imports() -> list[pytest.param]:
    found = []
    for page in [README, *sorted((ROOT / "docs").rglob("*.md"))]:
        for block in FENCE.finditer(page.read_text(encoding="utf-8")):
            if block["lang"] != "python":
                continue
            for line in _code_lines(block["code"]):
                match = re.match(r"from (consentlib[\w.]*) import \(?([\w\s,]+?)\)?$", line)
                if match:
                    names = tuple(name.strip() for name in match[2].split(",") if name.strip())
                    found.append(pytest.param(match[1], names, id=f"{page.relative_to(ROOT)}:{match[1]}"))
    return found


@pytest.mark.parametrize(("module", "names"), _consentlib_imports())
def test_every_consentlib_import_in_the_docs_imports(module, names):
    # The package was reorganised; a fragment on any page that names a module that moved
    # is the first thing a reader pastes.
    import importlib

    imported = importlib.import_module(module)
    missing = [name for name in names if not hasattr(imported, name)]
    assert not missing, f"`from {module} import ...` in the docs names what it does not have: {missing}"
