"""The documentation site builds without a warning, and its quick start really gates."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.prerequisites import needs_missing

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "docs" / "quickstart.md"


def test_documentation_site_builds_with_warnings_as_errors(tmp_path):
    # A broken link, a page missing from the navigation or a docstring that no longer
    # matches the code fails the build (mkdocs.yml sets strict: true).
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        needs_missing("mkdocs and mkdocstrings-python are not installed: ./dev test installs the dev group.")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    reference = (tmp_path / "site" / "reference" / "index.html").read_text()
    # The API reference is generated from the docstrings, options included.
    assert "trusted_origins" in reference and "MailTracker" in reference


def _quickstart_app(tmp_path, monkeypatch):
    text = QUICKSTART.read_text()
    match = re.search(r"<!-- quickstart-flask:.*?-->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/quickstart.md lost its marked Flask example"
    monkeypatch.chdir(tmp_path)  # its store is sqlite:///consent.db, relative to here
    monkeypatch.setenv("APP_SECRET_KEY", "app-secret-key-for-the-docs-test")
    monkeypatch.setenv("CONSENT_SECRET_KEY", "consent-secret-key-for-the-docs-test")
    namespace: dict = {"__name__": "quickstart_app"}
    exec(compile(match.group(1), str(QUICKSTART), "exec"), namespace)  # noqa: S102 - our own docs
    return namespace["app"]


def test_quickstart_flask_app_gates_cookies_and_beacons_until_consent(tmp_path, monkeypatch):
    # ePrivacy Art 5(3): the example a new user copies must keep the promise it makes.
    client = _quickstart_app(tmp_path, monkeypatch).test_client()
    page = client.get("/")
    assert page.status_code == 200
    assert not any(c.startswith("_ga=") for c in page.headers.getlist("Set-Cookie"))
    html = page.get_data(as_text=True)
    assert "banner." in html and 'data-consent="analytics"' in html and "Analytics allowed: False" in html
    beacon = client.post("/collect")
    assert beacon.status_code == 204 and beacon.headers["Cache-Control"] == "no-store"  # answered by consentlib

    chosen = client.post("/_consent/", data={"action": "accept_all"}, headers={"Origin": "http://localhost"})
    assert chosen.status_code == 303
    accepted = client.get("/")
    assert any(c.startswith("_ga=") for c in accepted.headers.getlist("Set-Cookie"))
    assert "Analytics allowed: True" in accepted.get_data(as_text=True)
    assert (tmp_path / "consent.db").exists()  # the receipt is kept where the docs say
