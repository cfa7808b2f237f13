"""The package ships ``py.typed`` and claims "Typing :: Typed" (PEP 561): its annotations
must hold under ``mypy --strict``, and they must reach a user's type checker."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.prerequisites import needs_missing

ROOT = Path(__file__).resolve().parents[2]


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("mypy") is None:
        needs_missing("mypy is not installed, so the package's types are not checked: "
                      "pip install --group dev (./dev test installs it).")
    # From the project root, so that pyproject's [tool.mypy] (overrides, the cache) applies.
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_package_is_clean_under_mypy_strict():
    """PEP 561: what "Typing :: Typed" promises users of the package."""
    done = _mypy("--strict", "-p", "consentlib")
    assert done.returncode == 0, f"mypy --strict -p consentlib found errors:\n{done.stdout}{done.stderr}"


def test_a_users_type_checker_sees_the_annotations(tmp_path):
    """A wrong call in a user's code is an error, not a silent Any; the README's own
    example (lists of categories and cookies) type-checks."""
    user = tmp_path / "user_site.py"
    user.write_text(textwrap.dedent("""
        from consentlib import Category, Cookie, Policy

        policy = Policy(revision=1, categories=[Category("necessary", required=True), Category("analytics")],
                        cookies=[Cookie("_ga*", "analytics", purpose="Google Analytics")])
        wrong = Policy(revision="2", categories=[Category("necessary", required=True)])
        reveal_type(policy.category_names)
    """))
    done = _mypy("--strict", str(user))
    found = [match.group(1) for match in re.finditer(r"user_site\.py:\d+: (.*)", done.stdout)]
    assert found == [
        'error: Argument "revision" to "Policy" has incompatible type "str"; expected "int"  [arg-type]',
        'note: Revealed type is "tuple[str, ...]"',
    ], done.stdout
