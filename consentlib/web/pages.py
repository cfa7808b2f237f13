"""Server-rendered HTML: the no-JavaScript preferences form (Principle 3: works without JS).

Rendered from templates (:mod:`consentlib.web.templates`) in the visitor's language; every
value is HTML-escaped. No inline style or script, so the pages work under a strict
Content-Security-Policy.
"""
from __future__ import annotations

from markupsafe import Markup

from consentlib.consent import DEFAULT_LIFETIME, Consent
from consentlib.locale.texts import localized
from consentlib.policy import Cookie, Policy, Storage
from consentlib.web.own_cookies import lifetime_parts
from consentlib.web.templates import Page, default_templates


def _english(page: Page | None) -> Page:
    return page if page is not None else default_templates().page()


def category_fields(policy: Policy, consent: Consent, page: Page | None = None) -> Markup:
    """One checkbox per category: required ones on and locked, none pre-ticked otherwise.
    A ``separate`` category comes last, each with its own sentence that asks it apart."""
    page = _english(page)
    rows = []
    for category in sorted(policy.categories, key=lambda c: c.separate):
        if category.separate:
            # PIPL Art 23, 29, 39 ask this consent apart: the catalogue's separate_consent.
            rows.append(Markup('<p class="consent-separate">{}</p>').format(
                page.text("separate_consent", label=localized(category.label, page.language))))
        # GPC turns gpc categories off; a minor cannot switch on what no guardian allowed.
        gpc_off = consent.gpc and category.gpc
        locked_off = gpc_off or (
            consent.minor and not category.required and category.name not in consent.granted)
        rows.append(page.render(
            "category.html", name=category.name, label=localized(category.label, page.language),
            description=localized(category.description, page.language),
            checked=category.required or (category.name in consent.granted and not locked_off),
            disabled=category.required or locked_off, required=category.required,
            gpc_off=not category.required and gpc_off,
            needs_guardian=not category.required and locked_off and not gpc_off))
    return Markup("".join(rows))


def cookie_tables(policy: Policy, page: Page | None = None, *, own: tuple[Cookie, Cookie] | None = None,
                  lifetime: int = DEFAULT_LIFETIME) -> Markup:
    """Per category, the cookies it covers: name, purpose, lifetime and who sets them; then
    its Web Storage keys, with their area (localStorage, sessionStorage) as the lifetime.

    The banner's second layer shows the same tables (read from declaration.json); here
    they need no JavaScript. ePrivacy Art 5(3) asks for clear and comprehensive
    information on each cookie's purpose, GDPR Art 13(1)(e) for who receives the data.
    ``own`` are consentlib's two cookies (:func:`~consentlib.web.own_cookies.own_cookies`),
    listed first in their category with their purpose and ``lifetime`` in the page's language.
    """
    page = _english(page)
    count, unit = lifetime_parts(lifetime)
    when = page.text(f"lifetime_{unit}" if count == 1 else f"lifetime_{unit}s", count=count)
    own_rows = [(c, page.text(key), when)
                for c, key in zip(own or (), ("own_consent_purpose", "own_consent_id_purpose"))]
    # Web Storage keys after the cookies, the area where the lifetime goes: it decides it
    # (sessionStorage ends with the tab, localStorage stays until removed).
    stored: list[tuple[Cookie | Storage, str, str]] = [
        (s, localized(s.purpose, page.language), ", ".join(s.areas)) for s in policy.storage]
    tables = []
    for category in policy.categories:
        rows = "".join(
            page.render("cookie-row.html", name=c.name, purpose=purpose, lifetime=said, third_party=c.third_party)
            for c, purpose, said in [*own_rows, *((c, localized(c.purpose, page.language), c.lifetime)
                                                  for c in policy.cookies), *stored]
            if c.category == category.name)
        label = localized(category.label, page.language)
        tables.append(page.render("cookie-table.html", name=category.name, label=label, cookies=Markup(rows)))
    return Markup("".join(tables))


def choice_form(policy: Policy, consent: Consent, *, action: str, next_path: str, page: Page | None = None) -> Markup:
    """The choice form, for the preferences page and for sites' own pages."""
    page = _english(page)
    return page.render("choice-form.html", action=action, next_path=next_path, minor=consent.minor,
                       categories=category_fields(policy, consent, page))


def guardian_form(policy: Policy, *, action: str, next_path: str, page: Page | None = None) -> Markup:
    """A minor asks a parent or guardian (GDPR Art 8): their address and what to allow."""
    page = _english(page)
    boxes = "".join(page.render("guardian-category.html", name=c.name, label=localized(c.label, page.language))
                    for c in policy.categories if not c.required)
    return page.render("guardian-form.html", action=action, next_path=next_path, categories=Markup(boxes))


def preferences_page(policy: Policy, consent: Consent, *, action: str, next_path: str,
                     guardians: bool = False, page: Page | None = None, own: tuple[Cookie, Cookie] | None = None,
                     lifetime: int = DEFAULT_LIFETIME) -> str:
    """The no-JavaScript preferences page: the visitor's state, the choice form, and the
    cookie tables (with consentlib's ``own`` cookies, living ``lifetime`` seconds)."""
    page = _english(page)
    body = page.render(
        "preferences.html", decided=consent.decided, gpc=consent.gpc, minor=consent.minor,
        guardian_form=guardian_form(policy, action=action, next_path=next_path, page=page)
        if consent.minor and guardians else "",
        choice_form=choice_form(policy, consent, action=action, next_path=next_path, page=page),
        cookie_tables=cookie_tables(policy, page, own=own, lifetime=lifetime), notice_url=policy.notice_url,
        next_path=next_path)
    return page.document(page.text("privacy_choices"), body)


def message_page(page: Page, title: str, message: Markup, form: Markup | str = "") -> str:
    """A page with a heading, one paragraph and (optionally) a form: texts of ``page``'s
    catalogue (``title`` and ``message`` are already rendered by :meth:`Page.text`)."""
    return page.document(title, page.render("message.html", message=message, form=form))


def redirect_page(location: str, done: str = "saved", page: Page | None = None) -> str:
    """The body of a 303: for the rare client that does not follow ``Location``.
    ``done`` is the key of the text that says what was done ("saved", "sent")."""
    page = _english(page)
    title = page.text(done)
    return page.document(title, page.render("redirect.html", done=title, location=location))
