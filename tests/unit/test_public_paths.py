"""Every import path that an earlier release documented (README, docs, the reference
sites users copy from) still imports, after the package was laid out in folders.

The list is written out by hand from the previous release's documentation on purpose: a
path that stopped importing would break a user's site on upgrade, whatever the new
layout calls it.
"""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

EARLIER_RELEASE = [
    ("consentlib", ["Beacon", "Category", "ConfigurationError", "Consent", "ConsentError", "ConsentMiddleware",
                    "Cookie", "MailStats", "MailTracker", "Policy", "StoreUnavailable", "Suppressed",
                    "UnusableMessage", "__version__"]),
    ("consentlib.flask", ["FlaskConsent"]),
    ("consentlib.asgi", ["ConsentMiddleware", "consent_banner", "consent_script"]),
    ("consentlib.django", []),
    ("consentlib.django.middleware", ["ConsentMiddleware"]),
    ("consentlib.middleware", ["ConsentMiddleware", "ENVIRON_KEY"]),
    ("consentlib.tags", ["banner_tags", "script_tag"]),
    ("consentlib.http", ["cross_origin_refusal", "safe_next"]),
    ("consentlib.pixel", ["TRANSPARENT_GIF"]),
    ("consentlib.pages", ["guardian_form"]),
    ("consentlib.mail", ["MailTracker", "MailStats", "Suppressed"]),
    ("consentlib.consent", ["Consent"]),
    ("consentlib.policy", ["Policy", "Category", "Cookie", "Beacon"]),
    ("consentlib.errors", ["ConsentError", "ConfigurationError", "StoreUnavailable", "UnusableMessage"]),
    ("consentlib.store", ["open_store", "Store"]),
    ("consentlib.testing", ["serve_wsgi", "serve_asgi"]),
    ("consentlib.testing.audit", ["ConsentAudit"]),
    ("consentlib.testing.browser", ["wait_until", "chrome_driver"]),
    ("consentlib.cli", ["main"]),  # the console script's entry point: consentlib.cli:main
]


@pytest.mark.parametrize("module, names", [pytest.param(m, n, id=m) for m, n in EARLIER_RELEASE])
def test_an_import_path_of_the_earlier_release_still_imports(module, names):
    imported = importlib.import_module(module)
    missing = [name for name in names if not hasattr(imported, name)]
    assert not missing, f"{module} no longer has {missing}: a site importing them breaks on upgrade"


def test_the_moved_paths_give_the_very_same_objects():
    """An old path is the new object, not a copy: isinstance checks and patches agree."""
    from consentlib import ConsentMiddleware
    from consentlib.middleware import ConsentMiddleware as old_path
    from consentlib.tags import banner_tags
    from consentlib.web.tags import banner_tags as new_path

    assert old_path is ConsentMiddleware and banner_tags is new_path


def test_python_m_consentlib_still_runs():
    result = subprocess.run([sys.executable, "-m", "consentlib", "--version"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.strip()
