"""The test suite on every supported Python version: `nox` (or `nox -s tests-3.10`).

`./dev test` runs the whole suite (browser, PostgreSQL, load tests) on the project's
main interpreter and, through the `compat` session here, the core's tests on the oldest
supported version when the machine has it; `nox -s tests` runs everything but the
browser and load tests on each supported version the machine has.
"""
from __future__ import annotations

import nox

SUPPORTED = ["3.10", "3.11", "3.12", "3.13"]  # keep in step with pyproject's classifiers
OLDEST = SUPPORTED[0]
# The core's own tests: what breaks first on another Python (syntax, standard library).
CORE = ["tests/test_policy.py", "tests/test_consent_cookie.py", "tests/test_middleware.py",
        "tests/test_endpoints.py", "tests/test_etag.py", "tests/test_header_names.py",
        "tests/test_beacon_paths.py", "tests/test_pages.py", "tests/test_mail.py", "tests/test_cli.py",
        "tests/test_store_contract.py", "tests/test_flask.py", "tests/test_django.py", "tests/test_asgi.py"]
nox.options.error_on_missing_interpreters = False  # "where the machine allows"
nox.options.reuse_existing_virtualenvs = True


def _install(session: nox.Session) -> None:
    # Dependency groups (PEP 735) need pip 25.1 or newer.
    session.run("python", "-m", "pip", "install", "--quiet", "--upgrade", "pip>=25.1")
    session.install("--quiet", "-e", ".[flask,testing,asgi]", "--group", "dev")


@nox.session(python=SUPPORTED)
def tests(session: nox.Session) -> None:
    _install(session)
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not e2e and not load",
                # Checked once, on the main interpreter, by ./dev test: the docs, the wheel, mypy.
                "--ignore=tests/test_docs.py", "--ignore=tests/test_packaging.py", "--ignore=tests/test_types.py",
                *session.posargs)


@nox.session(python=OLDEST)
def compat(session: nox.Session) -> None:
    _install(session)
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not e2e and not load",
                *(session.posargs or CORE))
