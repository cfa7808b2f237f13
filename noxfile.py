"""The test suite on every supported Python version: `nox` (or `nox -s tests-3.10`).

`./dev test` runs the whole suite (browser, PostgreSQL, load tests) on the project's
main interpreter and, through this file, the tests that need neither a browser nor
gunicorn on the oldest and newest supported versions it finds on the machine.
"""
from __future__ import annotations

import nox

SUPPORTED = ["3.10", "3.11", "3.12", "3.13"]  # keep in step with pyproject's classifiers
nox.options.error_on_missing_interpreters = False  # "where the machine allows"
nox.options.reuse_existing_virtualenvs = True


@nox.session(python=SUPPORTED)
def tests(session: nox.Session) -> None:
    session.install("-e", ".[flask,testing]", "pytest>=8", "hypothesis>=6.100", "django>=5", "psycopg[binary]>=3.1")
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not e2e and not load",
                "--ignore=tests/test_docs.py", "--ignore=tests/test_packaging.py",
                "--ignore=tests/test_types.py",  # mypy checks the types once, on the main interpreter
                *session.posargs)
