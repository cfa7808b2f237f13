"""What some tests need from the machine, and what happens when it is missing."""
from __future__ import annotations

import os

import pytest

POSTGRES_ENV = "CONSENTLIB_TEST_POSTGRES"


def needs_missing(message: str):
    """A prerequisite of a test is missing: a failure in CI (./dev test provides it),
    a skip that says how to get it on a developer's machine."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def postgres_url(what: str) -> str:
    """The throwaway PostgreSQL server's URL that ./dev test exports."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        needs_missing(f"{POSTGRES_ENV} is not set, so {what} does not run: ./dev test starts a throwaway server, "
                      "or set it to postgresql://user:password@127.0.0.1:5432/dbname.")
    return url
