"""What `pip install consentlib` gets: the wheel's files and metadata."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import consentlib

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(out), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [built] = out.glob("consentlib-*.whl")
    return zipfile.ZipFile(built)


def _metadata(wheel: zipfile.ZipFile):
    [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return Parser().parsestr(wheel.read(name).decode())


def test_wheel_version_has_one_source(wheel):
    assert _metadata(wheel)["Version"] == consentlib.__version__


def test_wheel_ships_what_it_claims(wheel):
    names = set(wheel.namelist())
    # "Typing :: Typed" is only true with py.typed in the wheel (PEP 561).
    assert "consentlib/py.typed" in names
    assert any(n.startswith("consentlib/web/static/banner.") and n.endswith(".js") for n in names)
    assert "consentlib/web/static/manifest.json" in names
    # The pages' templates and catalogues: without them no consentlib page can render.
    shipped = ROOT / "consentlib" / "web" / "templates"
    for path in [*shipped.glob("*.html"), *shipped.glob("messages/*.json")]:
        assert f"consentlib/web/{path.relative_to(shipped.parent).as_posix()}" in names
    assert {"consentlib/web/templates/page.html", "consentlib/locale/zh-Hans/LC_MESSAGES/consentlib.po", "consentlib/locale/compiled/zh-Hans.json"} <= names
    classifiers = _metadata(wheel).get_all("Classifier")
    assert "Typing :: Typed" in classifiers and "Framework :: Flask" in classifiers


def test_wheel_postgres_extra_is_the_plain_driver(wheel):
    # The binary build bundles its own libpq; a library must not force that choice on users.
    requires = _metadata(wheel).get_all("Requires-Dist")
    postgres = [r for r in requires if "extra == \"postgres\"" in r]
    assert postgres and all(r.startswith("psycopg>=") for r in postgres)


def _plugin_fixtures(*, hide_selenium: bool) -> list[str]:
    # A fresh interpreter, as pytest loading the pytest11 entry point in another project.
    hide = "import importlib.util as u; real = u.find_spec; " \
           "u.find_spec = lambda name, *a: None if name == 'selenium' else real(name, *a); " if hide_selenium else ""
    code = hide + ("import json, consentlib.testing.plugin as p; "
                   "print(json.dumps(sorted(n for n, v in vars(p).items() if hasattr(v, '_fixture_function_marker') "
                   "or type(v).__name__ == 'FixtureFunctionDefinition')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_pytest_plugin_adds_its_fixture_only_with_selenium_installed():
    assert _plugin_fixtures(hide_selenium=False) == ["consent_browser"]
    assert _plugin_fixtures(hide_selenium=True) == []
