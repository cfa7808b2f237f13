"""The consent receipts in Django's admin: read-only, over the store the middleware writes.

With ``django.contrib.admin`` in ``INSTALLED_APPS`` next to ``consentlib.django``, the
admin lists "consent receipts", newest first, filtered by category granted, action
(accept all, reject all, customised: derived as ``consentlib report`` derives it),
revision and day. Nobody may add, change or delete one: receipts are the proof of
consent (GDPR Art 7(1)). The one thing staff can do is the visitor's erasure request
(GDPR Art 17): "Erase the selected visitors" asks for confirmation on a page of its
own, then minimises each visitor's receipts through the store (``forget
--consent-id``), which keeps the proof and the id only as a keyed fingerprint.

Who may look: a superuser, or staff with the ``consentlib.view_receipt`` permission.
Who may erase: superusers only (the model has no permission that would fit).
"""
from __future__ import annotations

import time
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template import engines
from django.urls import URLPattern, path, reverse

from consentlib.django.models import Receipt
from consentlib.records.report import action
from consentlib.store.receipt_list import ACTIONS, ReceiptFilter, receipt_page, refusable, revisions
from consentlib.store.report import Decision

PAGE = 100
# Which categories a visitor could refuse is read from every receipt (one grouped pass):
# kept a minute, so paging through the list does not pay it on every page.
REFUSABLE_SECONDS = 60.0
_refusable: dict[int, tuple[float, dict[int, frozenset[str]]]] = {}
_stores: dict[tuple[Any, str], Any] = {}
LABELS = {"accept_all": "Accept all", "reject_all": "Reject all", "customised": "Customised"}

_LIST = """{% extends "admin/base_site.html" %}
{% block content %}<div id="content-main">
<p>Newest first, {{ page_size }} a page. Receipts are the proof of consent: they are read here, never changed.</p>
<div style="display:flex;gap:2rem"><form method="post" action="{{ erase_url }}" style="flex:1">{% csrf_token %}
<table id="result_list"><thead><tr><th></th><th>time (UTC)</th><th>consent id</th><th>revision</th><th>action</th>
<th>granted</th><th>method</th><th>GPC</th></tr></thead><tbody>
{% for r in receipts %}<tr><td><input type="checkbox" name="consent_id" value="{{ r.consent_id }}"
 aria-label="select {{ r.consent_id }}"></td><td>{{ r.time }}</td><td>{{ r.consent_id }}</td><td>{{ r.revision }}</td>
<td>{{ r.action }}</td><td>{{ r.granted }}</td><td>{{ r.method }}</td><td>{{ r.gpc }}</td></tr>
{% empty %}<tr><td colspan="8">No receipt matches.</td></tr>{% endfor %}</tbody></table>
{% if can_erase and receipts %}<p><button type="submit" name="action" value="erase">Erase the selected visitors
</button></p>{% endif %}
<p>{% if previous_url %}<a href="{{ previous_url }}">newer</a> {% endif %}
{% if next_url %}<a href="{{ next_url }}">older</a>{% endif %}</p></form>
<nav id="changelist-filter" aria-label="Filters">{% for filter in filters %}<h3>By {{ filter.title }}</h3><ul>
{% for choice in filter.choices %}<li{% if choice.selected %} class="selected"{% endif %}>
<a href="{{ choice.url }}">{{ choice.label }}</a></li>{% endfor %}</ul>{% endfor %}
<h3>By day</h3><form method="get">{% for name, value in kept %}<input type="hidden" name="{{ name }}"
 value="{{ value }}">{% endfor %}<input type="date" name="day" value="{{ day }}" aria-label="day">
<button type="submit">Show</button></form></nav></div></div>{% endblock %}"""

_CONFIRM = """{% extends "admin/base_site.html" %}
{% block content %}<h1>Erase {{ consent_ids|length }} visitor(s)?</h1>
<p>Each visitor's receipts lose their IP network and browser family; the proof of their choices stays, and
their consent id is kept only as a keyed fingerprint, so it never links anything again (GDPR Art 17). This
cannot be undone.</p><ul>{% for consent_id in consent_ids %}<li>{{ consent_id }}</li>{% endfor %}</ul>
<form method="post">{% csrf_token %}{% for consent_id in consent_ids %}
<input type="hidden" name="consent_id" value="{{ consent_id }}">{% endfor %}
<input type="hidden" name="confirm" value="yes"><button type="submit">Yes, erase them</button>
<a href="{{ back_url }}">No, go back</a></form>{% endblock %}"""


def site_store() -> Any:
    """The store ``settings.CONSENTLIB`` names, opened with the site's keys (erasing needs
    them); once per process and URL, as the middleware does (opening checks the tables)."""
    from consentlib.django.settings import options
    from consentlib.store import open_store

    given = options()
    url, keys = given.get("store", "sqlite:///consent.db"), given["secret_key"]
    key = (url if isinstance(url, str) else id(url), repr(keys))
    if key not in _stores:
        _stores[key] = open_store(url, secret_key=keys)
    return _stores[key]


def _filter_from(query: Any) -> ReceiptFilter:
    """The filters of a changelist URL; a malformed one is ignored, never a 500."""
    revision = query.get("revision", "")
    try:
        day = date.fromisoformat(query.get("day", "")) if query.get("day") else None
    except ValueError:
        day = None
    return ReceiptFilter(category=query.get("category") or None,
                         action=query.get("action") if query.get("action") in ACTIONS else None,
                         revision=int(revision) if revision.isdigit() and len(revision) < 18 else None, day=day)


class ReceiptAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: no add, no change, no delete; the erasure action after a confirmation."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        # Only these two: the add, change, delete and history views do not exist (404).
        wrap = self.admin_site.admin_view
        return [path("", wrap(self.changelist_view), name="consentlib_receipt_changelist"),
                path("erase/", wrap(self.erase_view), name="consentlib_receipt_erase")]

    def _context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta}

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        store = site_store()
        filters = _filter_from(request.GET)
        offset = int(request.GET["o"]) if request.GET.get("o", "").isdigit() else 0
        optional = _refusable_of(store)
        found, more = receipt_page(store, filters, offset=offset, limit=PAGE, optional=optional)
        from consentlib.django.settings import options

        categories = options()["policy"].category_names
        context = self._context(request, "Consent receipts")
        context.update(
            page_size=PAGE, erase_url=reverse("admin:consentlib_receipt_erase"),
            can_erase=request.user.is_superuser,  # type: ignore[union-attr]
            receipts=[_row(receipt, optional) for receipt in found],
            filters=[
                _choices(request, "category", "category granted", [(c, c) for c in categories]),
                _choices(request, "action", "action", [(a, LABELS[a]) for a in ACTIONS]),
                _choices(request, "revision", "revision", [(str(r), str(r)) for r in revisions(store)]),
            ],
            kept=[(k, v) for k, v in request.GET.items() if k not in ("day", "o")],
            day=filters.day.isoformat() if filters.day else "",
            previous_url=_url(request, o=max(offset - PAGE, 0)) if offset else None,
            next_url=_url(request, o=offset + PAGE) if more else None,
        )
        return HttpResponse(engines["django"].from_string(_LIST).render(context, request))

    def erase_view(self, request: HttpRequest) -> HttpResponse:
        """POST the selected consent ids: a confirmation page; POST again with confirm=yes: erased."""
        if request.method != "POST" or not request.user.is_superuser:  # type: ignore[union-attr]
            raise PermissionDenied
        back = reverse("admin:consentlib_receipt_changelist")
        consent_ids = sorted(set(request.POST.getlist("consent_id")))[:PAGE]
        if not consent_ids:
            self.message_user(request, "Select the visitors to erase first.", messages.WARNING)
            return HttpResponseRedirect(back)
        if request.POST.get("confirm") != "yes":
            context = {**self._context(request, "Erase visitors"), "consent_ids": consent_ids, "back_url": back}
            return HttpResponse(engines["django"].from_string(_CONFIRM).render(context, request))
        store = site_store()
        erased = sum(1 for consent_id in consent_ids if store.minimise_receipts(consent_id))
        self.message_user(request, f"{erased} visitor(s) erased: their receipts keep only the proof of consent.",
                          messages.SUCCESS)
        return HttpResponseRedirect(back)


def _refusable_of(store: Any) -> dict[int, frozenset[str]]:
    key = id(store)
    cached = _refusable.get(key)
    if cached is None or time.monotonic() - cached[0] > REFUSABLE_SECONDS:
        cached = _refusable[key] = (time.monotonic(), refusable(store))
    return cached[1]


def _row(receipt: dict[str, Any], optional: dict[int, frozenset[str]]) -> dict[str, Any]:
    revision = receipt.get("revision")
    decision = Decision(revision, tuple(receipt.get("granted") or ()), tuple(receipt.get("denied") or ()),
                        receipt.get("method"), bool((receipt.get("signals") or {}).get("gpc")), None, None)
    chosen = action(decision, optional.get(revision, frozenset()) if isinstance(revision, int) else frozenset())
    return {"time": str(receipt.get("time", ""))[:19].replace("T", " "), "consent_id": receipt.get("consent_id"),
            "revision": revision, "granted": ", ".join(receipt.get("granted") or []), "action": LABELS[chosen],
            "method": receipt.get("method"), "gpc": "yes" if decision.gpc else "no"}


def _url(request: HttpRequest, **changes: Any) -> str:
    query = {**request.GET.dict(), **{k: str(v) for k, v in changes.items()}}
    return "?" + urlencode({k: v for k, v in query.items() if v not in ("", None)})


def _choices(request: HttpRequest, name: str, title: str, values: list[tuple[str, str]]) -> dict[str, Any]:
    current = request.GET.get(name, "")
    choices = [{"label": "All", "url": _url(request, **{name: "", "o": ""}), "selected": not current}]
    choices += [{"label": label, "url": _url(request, **{name: value, "o": ""}), "selected": current == value}
                for value, label in values]
    return {"title": title, "choices": choices}


admin.site.register(Receipt, ReceiptAdmin)
