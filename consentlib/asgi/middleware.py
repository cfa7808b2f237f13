"""ConsentMiddleware for ASGI 3 apps (Starlette, FastAPI, Quart, Django under ASGI).

The same decisions as the WSGI middleware, made by the same code: this module only
translates an ASGI connection into the core's plain text (``Cookie`` header, path,
response header pairs) and back. Store I/O runs in worker threads, never on the event
loop.
"""
from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from consentlib.asgi.bridge import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    header_text,
    read_body,
    request_of,
    request_signals,
    route_path,
    send_response,
    with_cookie,
)
from consentlib.consent import DEFAULT_LIFETIME, Consent, CookiePayload
from consentlib.gate.beacons import ENDPOINT
from consentlib.gate.cookies import _UNDECLARED_NAMES_LIMIT, UndeclaredCookies
from consentlib.gate.responses import RawHeaders, add_vary
from consentlib.core import ConsentCore, HoldsCore
from consentlib.options import arguments_of
from consentlib.gate.regions import vary_raw
from consentlib.web.exchange import BODY_METHODS, Pending
from consentlib.web.pixel import is_image_request, untrackable
from consentlib.policy import Policy
from consentlib.store import Store
from consentlib.gate.visits import Visit

try:
    from anyio import to_thread
except ImportError as exc:  # pragma: no cover - anyio comes with every ASGI framework
    raise ImportError("consentlib.asgi needs anyio: pip install 'consentlib[asgi]'.") from exc

SCOPE_KEY = "consentlib.consent"
# The middleware itself, for the template helpers (consentlib.asgi.templates).
MIDDLEWARE_KEY = "consentlib.middleware"
# RFC 6455 §7.4.1: 1008, a message that violates the endpoint's policy.
_POLICY_VIOLATION = 1008


class ConsentMiddleware(HoldsCore):
    """Wrap an ASGI 3 ``app`` so that only what ``policy`` and the visitor allow gets through.

    The options, their security consequences and the HTTP contract are those of
    :class:`consentlib.ConsentMiddleware` (the WSGI door), with the ASGI scope where
    the WSGI door has the environ:

    * the visitor's :class:`~consentlib.Consent` is at ``scope["consentlib.consent"]``;
    * ``is_minor(scope)`` receives the ASGI scope, in a worker thread (it may query a
      database), like every read and write of the store;
    * ``secure=None`` marks the consent cookie ``Secure`` when ``scope["scheme"]`` is
      ``https`` (or ``wss``).

    Works as ``ConsentMiddleware(app, policy, ...)`` and with Starlette's
    ``app.add_middleware(ConsentMiddleware, policy=policy, ...)``.

    ``lifespan`` passes through untouched. A WebSocket handshake has its ``Cookie``
    header filtered like a request's and the headers of its ``websocket.accept``
    gated like a response's; a WebSocket to a blocked beacon path or under the consent
    prefix is refused (closed before it is accepted, which servers answer with 403).
    Any other scope type is refused with an error, as the ASGI spec asks of an app
    that does not know it.

    The consent endpoints (``/_consent/...``, ``/.well-known/gpc.json``) are answered by
    the same handlers as the WSGI door's: the request (its body read up to ``max_body``)
    becomes a plain :class:`consentlib.web.exchange.Request`, answered on the event
    loop; only the store work of the answer runs in a worker thread. Without the ``etags`` category the ETag firewall
    (:class:`consentlib.asgi.etag.ETagFirewall`) streams: it holds a body only up to
    ``etag_body_limit`` bytes.
    """

    def __init__(
        self,
        app: ASGIApp,
        policy: Policy,
        *,
        secret_key: str | bytes | Sequence[str | bytes],
        store: str | Store = "sqlite:///consent.db",
        prefix: str = "/_consent/",
        lifetime: int = DEFAULT_LIFETIME,
        secure: bool | None = None,
        cookie_domain: str | None = None,
        trusted_origins: Iterable[str] = (),
        honour_dnt: bool = False,
        gpc_last_update: str | None = None,
        max_body: int = 16 * 1024,
        etag_body_limit: int = 1 << 20,
        is_minor: Callable[[Scope], bool] | None = None,
        guardian_mailer: Callable[[str, str, list[str]], None] | None = None,
        site_url: str | None = None,
        on_change: Callable[[dict[str, Any]], object] | None = None,
        templates: str | os.PathLike[str] | None = None,
        locale_dirs: Sequence[str | os.PathLike[str]] = (),
        mode: str = "enforce",
        third_party_csp: str | None = None,
        region_header: str | None = None,
        subdivision_header: str | None = None,
        geoip: str | None = None,
    ) -> None:
        # The core checks every option (with the same sentences) and holds every cache.
        self.core = ConsentCore(arguments_of("asgi", locals()), door="asgi")
        # Recording an undeclared cookie writes to the store: from a worker thread here.
        self._undeclared = _UndeclaredOffLoop(self.core.store, policy.category_names)
        self.core.record_undeclared_with(self._undeclared)
        self.routes = self.core.routes
        self.app = app
        # The core's parts __call__ reads on every request, one attribute lookup away.
        self._visits = self.core.visits
        self._secure_option = self.core.secure  # None: the request's scheme decides
        self._reads_region = self.core.reads_region
        self._minors = self.core.is_minor is not None
        self._gates = self.core.responses.gates[True]
        self._etags_category = policy.etags
        self._region_vary = self.core.region_vary()
        self._firewall = app
        # In report mode validators pass both ways (the response gate notes them).
        if policy.etags is not None and self.core.enforcing:
            from consentlib.asgi.etag import ETagFirewall

            category = policy.etags
            self._firewall = ETagFirewall(app, applies=lambda scope: category not in scope[SCOPE_KEY].granted,
                                          max_body=etag_body_limit)

    def read_consent(self, scope: Scope) -> tuple[Consent, CookiePayload | None]:
        """The visitor's consent on this connection, and the verified cookie payload."""
        return self.core.visit_of(*request_signals(scope.get("headers", ())), self._secure(scope),
                                  self._region(scope))[:2]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._not_http(scope, receive, send)
            return
        # The hot path, inline: every request of the site passes here.
        headers = scope["headers"]
        header, gpc, dnt = request_signals(headers)
        secure = self._secure_option  # the consent cookies' names follow it
        if secure is None:
            secure = scope.get("scheme") == "https"
        visit = self._visits.of(header, gpc, dnt, secure, self._region(scope) if self._reads_region else None)
        if self._minors:
            visit = await to_thread.run_sync(self._minor_visit, scope, visit, header)
        consent, _, filtered, refused, _, stripped, gpc_refused, resign = visit
        root = scope.get("root_path")
        path = route_path(scope) if root else scope["path"]
        granted = consent.granted
        where = self.routes.route(path, granted, root or "")
        if where == ENDPOINT:
            await self._endpoint(scope, receive, send, consent, path)
            return
        if where:  # a blocked beacon
            image = is_image_request(path, header_text(headers, b"accept"))
            status, beacon_headers, body = untrackable(image=image, head=scope.get("method") == "HEAD")
            await send_response(send, int(status[:3]), beacon_headers, body)
            return
        # A copy, as the ASGI spec asks of a middleware that changes the scope: the
        # server's scope must not see what this request's app was given. Copied, then
        # filled: {**scope, key: value} builds and frees a dict of its own keys first
        # (about 1,000 instructions a request, counted by bench/instructions.py).
        scope = {**scope}
        scope[SCOPE_KEY] = consent
        scope[MIDDLEWARE_KEY] = self
        if stripped:
            # The app sees fewer cookies than were sent: what it answers depends on consent.
            scope["headers"] = with_cookie(headers, filtered)
        if refused or resign:
            core = self.core
            gate = core.responses.headers_gate(granted, core.extra_headers(visit, secure),
                                               gpc_refused, stripped, raw=True)
        else:
            # Nothing of this request's own to add: the gate for this consent is reused.
            key = (granted, gpc_refused, stripped)
            gate = self._gates.get(key) or self.core.responses.new_gate(key, raw=True)
        if self._region_vary:
            gate = _with_region_vary(gate, self._region_vary)
        undeclared = self._undeclared

        # Not a coroutine of its own: it hands back ``send``'s awaitable (the app awaits
        # it), so each message costs one call, not a coroutine more per message.
        def gated_send(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                message = {**message}  # copied, then filled, as the scope above
                message["headers"] = gate(message.get("headers", ()))
                if undeclared.pending:
                    return _record_then_send(undeclared, send, message)
            return send(message)

        app = self.app if self._etags_category in granted else self._firewall
        await app(scope, receive, gated_send)

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self.app(scope, receive, send)
        else:
            # A protocol this middleware does not know could carry cookies it cannot see.
            raise ValueError(f"consentlib's ConsentMiddleware does not handle ASGI scope type {kind!r}; "
                             "it gates 'http' and 'websocket' and passes 'lifespan' through.")

    def _minor_visit(self, scope: Scope, visit: Visit, header: str) -> Visit:
        core = self.core
        # The site's rule may read the visitor's region (scope[SCOPE_KEY].region) for the
        # age of digital consent there: Policy.is_minor(age, jurisdiction=consent.region).
        return core.minor_visit(visit, header) if core.guardians.is_minor({**scope, SCOPE_KEY: visit.consent}) else visit

    def _region(self, scope: Scope) -> str | None:
        """The region the core reads from this request's trusted header or address:
        several lines of it are joined, as RFC 9110 §5.3 says, into a value no CDN sends."""
        country, subdivision = self.core.region_names
        headers = scope.get("headers", ())
        client = scope.get("client")
        return self.core.region_of(header_text(headers, country.encode()) or None if country else None,
                                   header_text(headers, subdivision.encode()) or None if subdivision else None,
                                   client[0] if client else None)

    def _secure(self, scope: Scope) -> bool:
        return self.core.is_secure(scope.get("scheme") in ("https", "wss"))

    async def _endpoint(self, scope: Scope, receive: Receive, send: Send, consent: Consent, path: str) -> None:
        # On the event loop: only the store work of the answer runs in a worker thread.
        body, over_limit = b"", False
        if scope.get("method") in BODY_METHODS:
            body, over_limit = await read_body(receive, self.core.max_body)
        answer = self.core.answer_endpoint(request_of(scope, body, over_limit, path), consent)
        while isinstance(answer, Pending):
            try:
                result = await to_thread.run_sync(answer.work)
            except Exception as exc:
                answer = answer.failed(exc)
            else:
                answer = answer.then(result)
        headers = answer.headers
        if self._region_vary:
            headers = list(headers)
            add_vary(headers, self._region_vary, [value for name, value in headers if name.lower() == "vary"])
        await send_response(send, answer.status, headers, answer.body)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        core = self.core
        header, gpc, dnt = request_signals(scope["headers"])
        secure = self._secure(scope)
        visit = core.visits.of(header, gpc, dnt, secure, self._region(scope) if core.reads_region else None)
        if core.is_minor is not None:
            visit = await to_thread.run_sync(self._minor_visit, scope, visit, header)
        consent, _, filtered, _, _, stripped, gpc_refused, _ = visit
        path = route_path(scope)
        routes = self.routes
        if routes.is_endpoint(path) or routes.blocks_beacon(path, consent.granted, scope.get("root_path") or ""):
            # Refused before the handshake completes: the app never sees the connection.
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": _POLICY_VIOLATION})
            return
        scope = {**scope, SCOPE_KEY: consent, MIDDLEWARE_KEY: self}
        if stripped:
            scope["headers"] = with_cookie(scope["headers"], filtered)
        gate = core.responses.headers_gate(consent.granted, core.extra_headers(visit, secure),
                                           gpc_refused, stripped, raw=True)

        async def gated_send(message: Message) -> None:
            if message["type"] in ("websocket.accept", "websocket.http.response.start"):
                # The handshake's answer (or its refusal) may set cookies like any response.
                message = {**message, "headers": gate(message.get("headers", ()))}
                if self._undeclared.pending:
                    await to_thread.run_sync(self._undeclared.record_pending)
            await send(message)

        await self.app(scope, receive, gated_send)


def _with_region_vary(gate: Callable[[RawHeaders], RawHeaders],
                      fields: tuple[str, ...]) -> Callable[[RawHeaders], RawHeaders]:
    """``gate`` that also names the region headers in ``Vary`` (RFC 9110 §12.5.5)."""
    return lambda headers: vary_raw(gate(headers), fields)


async def _record_then_send(undeclared: _UndeclaredOffLoop, send: Send, message: Message) -> None:
    """Record the undeclared cookies the gate noted (store I/O, in a worker thread), then send."""
    await to_thread.run_sync(undeclared.record_pending)
    await send(message)


class _UndeclaredOffLoop(UndeclaredCookies):
    """Undeclared cookies noted while gating, recorded in a worker thread afterwards.

    The cookie is dropped at once either way; until it is recorded, ``note`` says
    "not yet" so the gate asks again (the WSGI door's retry, without blocking the loop).
    """

    def __init__(self, store: Store, category_names: Iterable[str] = ()) -> None:
        super().__init__(store, category_names)
        self.pending: set[str] = set()

    def note(self, name: str) -> bool:
        if name in self._known or len(self._known) >= _UNDECLARED_NAMES_LIMIT:
            return UndeclaredCookies.note(self, name)  # no store I/O: known, or over the limit
        self.pending.add(name)
        return False

    def record_pending(self) -> None:
        while True:
            try:
                name = self.pending.pop()
            except KeyError:
                return
            UndeclaredCookies.note(self, name)
