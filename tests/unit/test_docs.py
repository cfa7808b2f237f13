"""The documentation site builds without a warning, and its quick start really gates."""
from __future__ import annotations

import html
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
    # Grouped as a user looks for them, each name with its signature, public names only.
    headings = re.findall(r'<h2 id="[^"]*">([^<]+)', reference)
    assert headings == ["The core names", "Flask", "Django", "ASGI", "Testing"], headings
    text = html.unescape(re.sub(r"<[^>]+>", "", reference))
    for signature in ("ConsentMiddleware(app: WSGIApplication, policy: Policy, *, secret_key:",
                      "FlaskConsent(app: Flask | None = None, policy: Policy | None = None",
                      "ConsentMiddleware(app: ASGIApp, policy: Policy, *, secret_key:",
                      "serve_wsgi(app: WSGIApplication, host: str = '127.0.0.1')"):
        assert signature in text, f"the API reference lost the signature {signature}..."
    documented = re.findall(r'id="(consentlib\.[\w.]+)"', reference)
    private = [name for name in documented if any(part.startswith("_") for part in name.split("."))]
    assert documented and not private, f"the API reference shows private names: {private}"


def _quickstart_app(tmp_path, monkeypatch):
    text = QUICKSTART.read_text()
    match = re.search(r"<!-- run: flask app.py -->\s*```python\n(.*?)```", text, re.S)
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


# -- README.md is the front page; the detail lives in docs/ ---------------------------------

README = ROOT / "README.md"
# The topics README introduces in a paragraph each, by the docs page that has the detail.
FRONT_PAGE_TOPICS = ["quickstart.md", "options.md", "banner.md", "http.md", "rights.md", "email.md",
                     "children.md", "audit.md", "cli.md"]
# Roughly a screenful per part; "## Performance" is the figures' table, kept whole.
FRONT_PAGE_LINES = 160


def _slug(heading: str) -> str:
    """A heading's anchor, as MkDocs' toc extension and GitHub both make it for ASCII text."""
    text = re.sub(r"[^\w\s-]", "", heading.replace("`", "")).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(markdown: str) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+?)\s*$", _prose(markdown), re.M)}


def _prose(markdown: str) -> str:
    """The text outside fenced code blocks (a `# comment` in a shell block is no heading)."""
    return re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)


def _nav_pages() -> set[str]:
    return set(re.findall(r":\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M))


def _readme_links() -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", _prose(README.read_text(encoding="utf-8")))


def test_readme_links_resolve_to_docs_pages_in_the_site():
    # A front page that points at a page the site does not publish, or at a heading that
    # was renamed, sends a new user nowhere.
    nav, readme = _nav_pages(), README.read_text(encoding="utf-8")
    broken = []
    for link in _readme_links():
        if link.startswith(("http://", "https://")):
            continue
        path, _, fragment = link.partition("#")
        target = ROOT / path if path else README
        if not target.is_file():
            broken.append(f"{link}: no such file")
            continue
        if path.startswith("docs/") and path.endswith(".md") and path[len("docs/"):] not in nav:
            broken.append(f"{link}: not in mkdocs.yml's nav, so the site does not publish it")
        if fragment and fragment not in _anchors(target.read_text(encoding="utf-8") if path else readme):
            broken.append(f"{link}: {target.name} has no heading #{fragment}")
    assert not broken, "README.md links that lead nowhere:\n" + "\n".join(broken)


def test_readme_stays_a_front_page_that_links_each_topic_to_its_docs_page():
    text = README.read_text(encoding="utf-8")
    linked = {link.partition("#")[0] for link in _readme_links()}
    missing = [page for page in FRONT_PAGE_TOPICS if f"docs/{page}" not in linked]
    assert not missing, f"README.md introduces these topics without a link to their docs page: {missing}"
    before, _, after = text.partition("## Performance")
    rest = after[after.find("\n## "):] if "\n## " in after else ""
    lines = len((before + rest).splitlines())
    assert lines <= FRONT_PAGE_LINES, (
        f"README.md is {lines} lines besides its Performance table (at most {FRONT_PAGE_LINES}): "
        "move the detail to the docs page that has the topic and link it.")


def _sentences(markdown: str) -> list[str]:
    """Prose sentences of at least twelve words: no code, tables, images or headings."""
    lines = [line for line in _prose(markdown).splitlines() if not line.lstrip().startswith(("|", "!", "#"))]
    text = re.sub(r"\s+", " ", " ".join(lines))
    return [s.strip() for s in re.split(r"(?<=[.:;])\s", text) if len(s.split()) >= 12]


def test_readme_does_not_repeat_the_docs_prose():
    # One place for each piece of detail: two copies drift apart, and one of them lies.
    docs = re.sub(r"\s+", " ", " ".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").rglob("*.md")))
    repeated = [s for s in _sentences(README.read_text(encoding="utf-8")) if s in docs]
    assert not repeated, "README.md repeats the docs word for word; keep one and link it:\n" + "\n".join(repeated)


# -- docs/contributing.md names real modules --------------------------------------------

CONTRIBUTING = ROOT / "docs" / "contributing.md"
def _named_paths(markdown: str) -> list[str]:
    """The package's modules and folders a page names: ``consentlib/....py`` and ``consentlib/.../``."""
    return sorted(set(re.findall(r"\bconsentlib/(?:[\w.-]+/)*(?:[\w.-]+\.py|)(?=[`\s|)]|$)", markdown, re.M)))


def test_the_path_finder_sees_modules_and_folders_in_tables_and_prose():
    page = "| `consentlib/gate/` | `consentlib/web/language.py` |\nin consentlib/options.py and (consentlib/asgi/)\n"
    assert _named_paths(page) == ["consentlib/asgi/", "consentlib/gate/", "consentlib/options.py",
                                  "consentlib/web/language.py"]


@pytest.mark.parametrize("path", _named_paths(CONTRIBUTING.read_text(encoding="utf-8")))
def test_contributors_page_names_only_modules_that_exist(path):
    # "Where things are" answers with file names: a moved or renamed module must take
    # the page along, or the page sends the next maintainer to nothing.
    assert (ROOT / path).exists(), (
        f"docs/contributing.md names {path}, which does not exist: write the module's new place on the page.")
