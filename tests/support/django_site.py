"""The core suite's test site as a Django project (settings, URLs, views in one module).

It behaves exactly like tests.support.apps' WSGI and Flask sites — sets sid, theme, _ga, _fbp
and an undeclared tracker_x, echoes the Cookie header it received — so the same header
tables run against it. It also has the evercookie trick at /etag and a template page
that renders ``consent_script`` from the Django template context.
"""
from __future__ import annotations

import json
import secrets

import django
from django.conf import settings

ETAG_SEEN: list[str | None] = []


def _policy_with_django_cookies():
    import dataclasses

    from consentlib import Cookie
    from tests.support.apps import POLICY

    return dataclasses.replace(POLICY, cookies=[
        *POLICY.cookies,
        Cookie("sessionid", "necessary", purpose="Keeps you signed in"),
        Cookie("csrftoken", "necessary", purpose="Protects forms against cross-site request forgery"),
        Cookie("django_language", "preferences", purpose="Remembers your language"),
        Cookie("messages", "necessary", purpose="Carries a message to the next page you see"),
    ])


#: The test policy with every cookie Django can set declared (what consentlib.W001 asks for).
POLICY_WITH_DJANGO_COOKIES = _policy_with_django_cookies()


def configure() -> None:
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-test-only-" + "x" * 32,
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        # consentlib first, as its docs say; CommonMiddleware sets Content-Length, and
        # the session and CSRF middleware are there as in most Django projects.
        MIDDLEWARE=[
            "consentlib.django.ConsentMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        APPEND_SLASH=False,
        INSTALLED_APPS=["consentlib.django"],
        # For the tests that install the admin (tests/integration/test_django_admin.py): its
        # users and sessions; the gate itself never touches Django's database.
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [],
            "OPTIONS": {"builtins": ["consentlib.django"], "context_processors": ["django.template.context_processors.request"]},
        }],
    )
    django.setup()


def page(request, path=""):
    from django.http import HttpResponse

    from tests.support.apps import SITE_COOKIES

    calls = request.META.get("test.calls")
    if calls is not None:
        calls.append(request.path)
    consent = request.consent  # set by consentlib.django.ConsentMiddleware
    response = HttpResponse(json.dumps({
        "cookie": request.META.get("HTTP_COOKIE"),
        "granted": sorted(consent.granted) if consent is not None else None,
    }), content_type="application/json")
    wanted = request.GET["set"].split(",") if "set" in request.GET else [n for n, _ in SITE_COOKIES]
    for name, value in SITE_COOKIES:
        if name in wanted:
            response.set_cookie(name, value, path="/")
    for value in request.GET.getlist("vary"):
        response.headers["Vary"] = ", ".join(filter(None, [response.headers.get("Vary"), value]))
    return response


def etag(request):
    """The evercookie trick: a per-visitor ETag, read back from If-None-Match."""
    from django.http import HttpResponse, HttpResponseNotModified

    sent = request.META.get("HTTP_IF_NONE_MATCH")
    ETAG_SEEN.append(sent)
    visitor = sent.strip('"') if sent and sent.startswith('"uid-') else f"uid-{secrets.token_hex(6)}"
    if sent == f'"{visitor}"':
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(f"hello {visitor}", content_type="text/plain")
    response.headers["ETag"] = f'"{visitor}"'
    response.headers["Cache-Control"] = "no-cache"
    return response


def template_page(request):
    from django.http import HttpResponse
    from django.template import engines

    from tests.support.apps import SITE_COOKIES

    source = ('<!doctype html><title>t</title>{% consent_banner %}'
              '{% consent_script "analytics" src="/static/analytics.js" %}')
    response = HttpResponse(engines["django"].from_string(source).render({}, request))
    for name, value in SITE_COOKIES:  # a careless page: the gate decides what leaves
        response.set_cookie(name, value, path="/")
    return response


#: What /astream sends; a test changes it to "edit the page".
ASTREAM_BODY = [b"version 1 of the page"]


def astream(request):
    """An async stream whose length is declared: the ETag firewall may hash it."""
    from django.http import StreamingHttpResponse

    body = ASTREAM_BODY[0]

    async def chunks():
        for start in range(0, len(body), 8):
            yield body[start:start + 8]

    response = StreamingHttpResponse(chunks(), content_type="text/plain")
    response.headers["Content-Length"] = str(len(body))
    return response


def request_view(request):
    """What the app can read of the request, by each of Django's three views of it."""
    from django.http import JsonResponse

    return JsonResponse({
        "meta": request.META.get("HTTP_COOKIE"),
        "headers": request.headers.get("Cookie"),
        "cookies": sorted(request.COOKIES),
        "if_none_match": [request.META.get("HTTP_IF_NONE_MATCH"), request.headers.get("If-None-Match")],
    })


class ReadsRequestFirst:
    """A middleware above consentlib that reads (and so caches) request.headers and COOKIES."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.seen_above = (request.headers.get("Cookie"), dict(request.COOKIES))
        return self.get_response(request)


def allows_page(request):
    """consent_of(request) in the view and {% consent_allows %} in the template."""
    from django.http import HttpResponse
    from django.template import engines

    from consentlib.django import consent_of

    source = ('{% consent_allows "marketing" %}<iframe src="https://video.example/1"></iframe>'
              '{% else %}<p>The video needs marketing cookies.</p>{% endconsent_allows %}'
              '{% consent_allows category %}[stats on]{% endconsent_allows %}')
    html = engines["django"].from_string(source).render({"category": "analytics"}, request)
    return HttpResponse(f"{html}|view:{consent_of(request).allows('marketing')}")


def _urls():
    from django.urls import path, re_path

    return [
        path("etag", etag),
        path("template", template_page),
        path("astream", astream),
        path("allows", allows_page),
        path("request", request_view),
        re_path(r"^(?P<path>.*)$", page),
    ]


def consentlib_setting(policy, options: dict) -> dict:
    """settings.CONSENTLIB for ConsentMiddleware's keyword ``options``."""
    from consentlib.django.settings import KEYS

    key_of = {option: key for key, option in KEYS.items()}
    return {"POLICY": policy, **{key_of[name]: value for name, value in options.items()}}


def handler(policy, options: dict, *, asgi: bool = False, above: tuple[str, ...] = ()):
    """A Django handler (WSGI or ASGI) whose MIDDLEWARE starts with consentlib's, and that
    consentlib middleware's core (what the tests' Site calls ``middleware``).

    ``above``: dotted paths of middleware put before consentlib's (a misconfiguration)."""
    configure()
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    # The middleware reads CONSENTLIB once, when the handler builds its chain.
    with override_settings(CONSENTLIB=consentlib_setting(policy, options),
                           MIDDLEWARE=[*above, *settings.MIDDLEWARE]):
        built = ASGIHandler() if asgi else WSGIHandler()
    door = built._middleware_chain.__wrapped__  # Django's exception wrapper around the first middleware
    return built, getattr(door, "core", None)  # None below a middleware put above it


def application(calls: list, policy, options: dict):
    """A Django WSGI app, gated by the native middleware, that records the paths it served."""
    django_app, core = handler(policy, options)

    def app(environ, start_response):
        environ["test.calls"] = calls
        return django_app(environ, start_response)

    return app, core


def __getattr__(name):
    # Django reads ``urlpatterns`` from ROOT_URLCONF after it is configured.
    if name == "urlpatterns":
        return _urls()
    raise AttributeError(name)
