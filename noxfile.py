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
CORE = ["tests/unit/test_policy.py", "tests/unit/test_consent_cookie.py", "tests/integration/test_middleware.py",
        "tests/integration/test_endpoints.py", "tests/integration/test_etag.py", "tests/integration/test_header_names.py",
        "tests/integration/test_beacon_paths.py", "tests/integration/test_pages.py", "tests/unit/test_mail.py", "tests/integration/test_cli.py",
        "tests/integration/test_store_contract.py", "tests/integration/test_flask.py", "tests/integration/test_django.py", "tests/integration/test_asgi.py"]
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
                "--ignore=tests/unit/test_docs.py", "--ignore=tests/unit/test_packaging.py", "--ignore=tests/unit/test_types.py",
                *session.posargs)


@nox.session(python=OLDEST)
def compat(session: nox.Session) -> None:
    _install(session)
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not e2e and not load",
                *(session.posargs or CORE))
