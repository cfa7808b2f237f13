"""``consentlib.django.ConsentMiddleware``: the Django door to consentlib's core.

It decides nothing itself. Each request is handed, as a WSGI call, to the same
:class:`consentlib.ConsentMiddleware` that gates any WSGI app, with the rest of
Django's middleware chain and the view as the app inside it; what comes out is put
back into Django's response. So Set-Cookie gating, stripped request cookies,
withdrawal expiry, beacons, the ETag firewall and the consent endpoints are the very
code the other doors run.

Put it first in ``MIDDLEWARE`` (``manage.py check`` says so: ``consentlib.E002``): the
session and CSRF middleware below it then never see a refused cookie, and the consent
endpoints (which check the origin of every posted choice themselves) are answered
before ``CsrfViewMiddleware`` runs.

The translation adds nothing of its own: the core's header lines go out as the core
wrote them (:mod:`consentlib.django.response`), and the request the app reads
(``META``, ``COOKIES``, ``headers``) is the one the core let through.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from http.cookies import Morsel
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from consentlib.django.response import AsyncBody, put_headers
from consentlib.django.settings import options as configured_options
from consentlib.wsgi.middleware import ENVIRON_KEY
from consentlib.wsgi.middleware import ConsentMiddleware as Core

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse

_REQUEST = "consentlib.django.request"
_CAPTURE = "consentlib.django.response"


class ConsentMiddleware:
    """Gate every request and response of a Django project (WSGI, ASGI, test client)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        options = configured_options()
        self.consent_mode = options.pop("consent_mode", None)
        self.core = Core(self._inner, **options)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        return self._handle(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        # The core's store I/O is blocking: it runs in a worker thread, never on the
        # event loop; the rest of the chain runs back on the loop (_inner).
        return await sync_to_async(self._handle)(request)

    # -- the translation -----------------------------------------------------------------

    def _handle(self, request: HttpRequest) -> HttpResponseBase:
        environ = _environ(request)
        environ[_REQUEST] = request
        if "consentlib.language" not in environ:
            environ["consentlib.language"] = _django_language(request)
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: OptExcInfo | None = None) -> Callable[[bytes], object]:
            captured["status"], captured["headers"] = status, headers
            return _no_write

        body = self.core(environ, start_response)
        inner: _InnerResponse | None = environ.get(_CAPTURE)
        # An async chain is Django's ASGI handler (or AsyncClient): see put_headers.
        return _django_response(captured["status"], captured["headers"], body, inner, asgi=self.is_async)

    def _inner(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI app inside the core: the rest of Django's chain."""
        request: HttpRequest = environ[_REQUEST]
        if environ is not request.META:
            request.META = environ  # the core's filtered copy: stripped cookies and validators
        # Django caches what it derives from META (COOKIES, headers) on first read, and a
        # middleware above this one, or Django itself, may have read them already: drop
        # them so that the gate's view of the request is the only one the app can read.
        for derived in _DERIVED_FROM_META:
            request.__dict__.pop(derived, None)
        request.consent = environ[ENVIRON_KEY]  # type: ignore[attr-defined]  # the attribute views read
        response = async_to_sync(self.get_response)(request) if self.is_async else self.get_response(request)
        inner = _InnerResponse(response, on_loop=self.is_async)
        environ[_CAPTURE] = inner
        start_response(f"{response.status_code} {response.reason_phrase}", inner.headers())
        return inner.body()


#: Properties of Django's requests that are computed from META once and cached.
_DERIVED_FROM_META = ("COOKIES", "headers")


class _InnerResponse:
    """The view's response, as WSGI headers and body for the core, kept to be reused."""

    def __init__(self, response: HttpResponseBase, *, on_loop: bool) -> None:
        self.response = response
        self.morsels: dict[str, Morsel[str]] = {morsel.OutputString(): morsel for morsel in response.cookies.values()}
        # An async stream is read for the core, so the firewall hashes what is sent.
        self.async_body = (AsyncBody(response, on_loop=on_loop)
                           if isinstance(response, StreamingHttpResponse) and response.is_async else None)

    def headers(self) -> list[tuple[str, str]]:
        return [*self.response.items(), *(("Set-Cookie", morsel.OutputString()) for morsel in self.morsels.values())]

    def body(self) -> Iterable[bytes]:
        if self.async_body is not None:
            return self.async_body.for_core()
        if isinstance(self.response, StreamingHttpResponse):
            return self.response.streaming_content  # type: ignore[return-value]
        # Every Django response that is not a stream keeps its body in ``content``.
        return [self.response.content]  # type: ignore[attr-defined]


def _no_write(data: bytes) -> None:
    raise RuntimeError("consentlib's Django door does not support the WSGI write() callable.")


def _django_language(request: HttpRequest) -> str | None:
    """Django's language for ``request``, the site's own choice for consentlib's pages and
    banner (consentlib.web.language): what LocaleMiddleware activates (the language
    cookie, ``Accept-Language`` among settings.LANGUAGES, else LANGUAGE_CODE); None
    without USE_I18N, and consentlib reads ``Accept-Language`` itself."""
    from django.conf import settings
    from django.utils import translation

    if not settings.USE_I18N:
        return None
    return translation.get_language_from_request(request)


def _environ(request: HttpRequest) -> dict[str, Any]:
    """A WSGI environ for the core. Under WSGI, Django's META is the environ itself."""
    meta = request.META
    if "wsgi.input" in meta:
        return meta
    # ASGI: Django built META from the scope; add what PEP 3333 requires of an environ.
    return {**meta, "wsgi.input": request, "wsgi.errors": sys.stderr, "wsgi.url_scheme": request.scheme,
            "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
            "SCRIPT_NAME": meta.get("SCRIPT_NAME", ""), "PATH_INFO": request.path_info}


def _django_response(status: str, headers: list[tuple[str, str]], body: Iterable[bytes],
                     inner: _InnerResponse | None, *, asgi: bool) -> HttpResponseBase:
    """The core's answer as a Django response; the view's own object when it answered."""
    code = int(status.split(" ", 1)[0])
    response: HttpResponseBase
    if inner is None:
        response = HttpResponse(_read(body))
    elif inner.async_body is not None:
        response = inner.response
        sent = inner.async_body.sent(body)
        response.streaming_content = sent if not isinstance(sent, Iterable) else _closing(sent)  # type: ignore[attr-defined]
    elif isinstance(inner.response, StreamingHttpResponse):
        response = inner.response
        response.streaming_content = _closing(body)
    else:
        response = inner.response
        # Every Django response that is not a stream keeps its body in ``content``.
        response.content = _read(body)  # type: ignore[attr-defined]
    response.status_code = code
    response.reason_phrase = status.split(" ", 1)[1] if " " in status else ""
    put_headers(response, headers, inner.morsels if inner is not None else {}, asgi=asgi)
    return response


def _read(body: Iterable[bytes]) -> bytes:
    try:
        return b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


def _closing(body: Iterable[bytes]) -> Iterator[bytes]:
    try:
        yield from body
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
