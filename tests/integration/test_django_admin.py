"""The consent receipts in Django's admin: listed and filtered from the store the
middleware writes, read-only (add and change refused), and erasure only after a
confirmation page. Through ``django.test.Client``, logged in as a superuser; on SQLite,
and on PostgreSQL when ``CONSENTLIB_TEST_POSTGRES`` is set."""
from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone

import pytest

pytest.importorskip("django")

from consentlib.records.receipts import build_receipt  # noqa: E402
from consentlib.store import open_store  # noqa: E402
from tests.integration.test_store_contract import backend  # noqa: E402,F401  (the fixture: sqlite, postgres)
from tests.support import django_site  # noqa: E402
from tests.support.apps import ALL, KEYS, NECESSARY, POLICY  # noqa: E402

REVISION_2 = dataclasses.replace(POLICY, revision=POLICY.revision + 1)
DAY = datetime(2026, 11, 3, 12, tzinfo=timezone.utc)
APPS = ["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
        "django.contrib.messages", "consentlib.django"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.csrf.CsrfViewMiddleware",
              "django.contrib.auth.middleware.AuthenticationMiddleware",
              "django.contrib.messages.middleware.MessageMiddleware"]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {
    "context_processors": ["django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
                           "django.contrib.messages.context_processors.messages"]}}]
CHANGELIST = "/admin/consentlib/receipt/"


def __getattr__(name):
    # This module is the test's ROOT_URLCONF; Django reads urlpatterns once configured.
    if name == "urlpatterns":
        from django.contrib import admin
        from django.urls import path

        return [path("admin/", admin.site.urls)]
    raise AttributeError(name)


def _add(store, granted, *, when=DAY, policy=POLICY, consent_id=None):
    consent_id = consent_id or uuid.uuid4().hex
    store.add_receipt(build_receipt(policy=policy, consent_id=consent_id, granted=granted,
                                    previously_granted=frozenset(), method="banner", gpc=False, dnt=False,
                                    lifetime=180 * 86400, ip="203.0.113.9", user_agent=None, when=when))
    return consent_id


@pytest.fixture
def site(backend):  # noqa: F811
    """A store with 3 accept all, 2 reject all and 1 customised (revision 1, 3 November),
    and 1 accept all under revision 2 a day later; an admin client logged in."""
    django_site.configure()
    from django.core.management import call_command
    from django.test import Client, override_settings

    url = backend.url()
    store = open_store(url, secret_key=KEYS)
    ids = {"accept": [_add(store, ALL) for _ in range(3)], "reject": [_add(store, NECESSARY) for _ in range(2)],
           "custom": [_add(store, frozenset({"necessary", "analytics"}))],
           "revision2": [_add(store, ALL, when=DAY + timedelta(days=1), policy=REVISION_2)]}
    setting = {"POLICY": POLICY, "SECRET_KEYS": KEYS, "STORE": url}
    # Installing the admin registers its system checks for good; the other Django tests
    # run `check` without the admin installed, so its checks go again afterwards.
    from django.core.checks.registry import registry

    checks = set(registry.registered_checks), set(registry.deployment_checks)
    with override_settings(INSTALLED_APPS=APPS, MIDDLEWARE=MIDDLEWARE, TEMPLATES=TEMPLATES, ROOT_URLCONF=__name__,
                           CONSENTLIB=setting):
        call_command("migrate", run_syncdb=True, verbosity=0)
        from django.contrib.auth.models import User

        user = User.objects.create_superuser(f"admin-{uuid.uuid4().hex[:8]}", "admin@example.org", "pw")
        client = Client()
        client.force_login(user)
        yield client, store, ids
    registry.registered_checks, registry.deployment_checks = checks
    store.close()


def _listed(response, ids):
    text = response.content.decode()
    return {name: sum(consent_id in text for consent_id in group) for name, group in ids.items()}


def test_the_changelist_lists_every_receipt(site):
    client, _, ids = site
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert _listed(response, ids) == {"accept": 3, "reject": 2, "custom": 1, "revision2": 1}
    assert "Accept all" in response.content.decode() and "Customised" in response.content.decode()
    assert "Add consent receipt" not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("?action=accept_all", {"accept": 3, "reject": 0, "custom": 0, "revision2": 1}, id="accept-all"),
        pytest.param("?action=reject_all", {"accept": 0, "reject": 2, "custom": 0, "revision2": 0}, id="reject-all"),
        pytest.param("?action=customised", {"accept": 0, "reject": 0, "custom": 1, "revision2": 0}, id="customised"),
        pytest.param("?category=analytics", {"accept": 3, "reject": 0, "custom": 1, "revision2": 1}, id="category"),
        pytest.param(f"?revision={POLICY.revision + 1}", {"accept": 0, "reject": 0, "custom": 0, "revision2": 1},
                     id="revision"),
        pytest.param("?day=2026-11-03", {"accept": 3, "reject": 2, "custom": 1, "revision2": 0}, id="day"),
        pytest.param("?day=2026-11-04&action=accept_all", {"accept": 0, "reject": 0, "custom": 0, "revision2": 1},
                     id="day-and-action"),
        pytest.param("?day=yesterday&revision=x&action=%3Cscript%3E",
                     {"accept": 3, "reject": 2, "custom": 1, "revision2": 1}, id="malformed-filters-ignored"),
    ],
)
def test_the_filters(site, query, expected):
    client, _, ids = site
    response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    assert _listed(response, ids) == expected


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(CHANGELIST + "add/", id="add"),
        pytest.param(CHANGELIST + "1/change/", id="change"),
        pytest.param(CHANGELIST + "1/delete/", id="delete"),
    ],
)
def test_add_change_and_delete_are_refused(site, url):
    client, _, _ = site
    assert client.get(url).status_code in (403, 404)
    assert client.post(url, {"consent_id": "x"}).status_code in (403, 404)


def test_erasure_asks_for_confirmation_first_then_erases_only_the_selected(site):
    client, store, ids = site
    chosen, other = ids["reject"]
    erase = CHANGELIST + "erase/"
    response = client.post(erase, {"action": "erase", "consent_id": [chosen]})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Erase 1 visitor(s)?" in page and chosen in page and 'name="confirm" value="yes"' in page
    # Nothing erased yet: the receipt still holds its IP network.
    assert store.receipts(consent_id=chosen)[0]["ip_network"] == "203.0.113.0/24"
    assert not store.consent_id_forgotten(chosen)

    response = client.post(erase, {"consent_id": [chosen], "confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    assert store.receipts(consent_id=chosen)[0]["ip_network"] is None
    assert store.consent_id_forgotten(chosen)
    assert store.receipts(consent_id=other)[0]["ip_network"] == "203.0.113.0/24"
    assert not store.consent_id_forgotten(other)


def test_erasure_is_a_post_only(site):
    client, store, ids = site
    assert client.get(CHANGELIST + "erase/?consent_id=" + ids["accept"][0] + "&confirm=yes").status_code == 403
    assert not store.consent_id_forgotten(ids["accept"][0])
