"""Server-rendered HTML: the no-JavaScript preferences form (Principle 3: works without JS).

No inline style or script, so the pages work under a strict Content-Security-Policy.
"""
from __future__ import annotations

from html import escape

from consentlib.consent import Consent
from consentlib.policy import Policy

GPC_HONOURED = "Global Privacy Control signal honored"


def category_fields(policy: Policy, consent: Consent) -> str:
    """One checkbox per category: required ones on and locked, none pre-ticked otherwise."""
    rows = []
    for category in policy.categories:
        # GPC turns gpc categories off; a minor cannot switch on what no guardian allowed.
        locked_off = (consent.gpc and category.gpc) or (
            consent.minor and not category.required and category.name not in consent.granted)
        checked = category.required or (category.name in consent.granted and not locked_off)
        attrs = ' checked' if checked else ''
        if category.required or locked_off:
            attrs += ' disabled'
        note = ""
        if category.required:
            note = " <small>(always on: strictly necessary)</small>"
        elif locked_off and consent.gpc and category.gpc:
            note = f" <small>({GPC_HONOURED})</small>"
        elif locked_off:
            note = " <small>(needs a parent's or guardian's consent)</small>"
        field_id = f"consent-category-{category.name}"
        rows.append(
            f'<p><input type="checkbox" name="category" value="{escape(category.name)}" id="{field_id}"{attrs}> '
            f'<label for="{field_id}"><strong>{escape(category.label)}</strong>{note}</label>'
            + (f'<br><span>{escape(category.description)}</span>' if category.description else "")
            + "</p>"
        )
    return "\n".join(rows)


def cookie_tables(policy: Policy) -> str:
    """Per category, the cookies it covers: name, purpose, lifetime and who sets them.

    The banner's second layer shows the same tables (read from declaration.json); here
    they need no JavaScript. ePrivacy Art 5(3) asks for clear and comprehensive
    information on each cookie's purpose, GDPR Art 13(1)(e) for who receives the data.
    """
    parts = ["<h2>The cookies of each category</h2>"]
    for category in policy.categories:
        cookies = [c for c in policy.cookies if c.category == category.name]
        if not cookies:
            parts.append(f"<h3>{escape(category.label)}</h3>\n<p>No cookies.</p>")
            continue
        rows = "".join(
            f"<tr><td><code>{escape(c.name)}</code></td><td>{escape(c.purpose)}</td>"
            f"<td>{escape(c.lifetime)}</td><td>{escape(c.third_party or 'this site')}</td></tr>\n"
            for c in cookies
        )
        parts.append(
            f"<h3>{escape(category.label)}</h3>\n"
            f'<table id="consent-cookies-{escape(category.name)}">\n'
            '<thead><tr><th scope="col">Cookie</th><th scope="col">Purpose</th>'
            '<th scope="col">Lifetime</th><th scope="col">Set by</th></tr></thead>\n'
            f"<tbody>\n{rows}</tbody></table>"
        )
    return "\n".join(parts)


def choice_form(policy: Policy, consent: Consent, *, action: str, next_path: str) -> str:
    """The choice form, for the preferences page and for sites' own pages."""
    return f"""<form method="post" action="{escape(action)}" class="consent-form">
<input type="hidden" name="next" value="{escape(next_path)}">
<fieldset><legend>Cookie categories</legend>
{category_fields(policy, consent)}
</fieldset>
<p>{"" if consent.minor else '<button type="submit" name="action" value="accept_all">Accept all</button>'}
<button type="submit" name="action" value="reject_all">Reject all</button>
<button type="submit" name="action" value="save">Save my choices</button></p>
</form>"""


def guardian_form(policy: Policy, *, action: str, next_path: str) -> str:
    """A minor asks a parent or guardian (GDPR Art 8): their address and what to allow."""
    boxes = "".join(
        f'<p><input type="checkbox" name="category" value="{escape(c.name)}" id="guardian-category-{c.name}"> '
        f'<label for="guardian-category-{c.name}">{escape(c.label)}</label></p>'
        for c in policy.categories if not c.required
    )
    return f"""<form method="post" action="{escape(action)}guardian" id="guardian-form">
<input type="hidden" name="next" value="{escape(next_path)}">
<p><label for="guardian-address">Your parent's or guardian's e-mail address</label><br>
<input type="email" name="guardian" id="guardian-address" required autocomplete="off"></p>
<fieldset><legend>What to ask them to allow</legend>{boxes}</fieldset>
<p><button type="submit" id="guardian-ask">Ask a parent or guardian</button></p>
</form>"""


def preferences_page(policy: Policy, consent: Consent, *, action: str, next_path: str,
                     guardians: bool = False) -> str:
    status = "You have made a choice; you can change it at any time." if consent.decided else "You have not made a choice yet: nothing optional is on."
    gpc = f"<p><strong>{GPC_HONOURED}.</strong></p>" if consent.gpc else ""
    if consent.minor:
        gpc += "<p><strong>You are below the age of digital consent: ask a parent or guardian.</strong></p>"
        if guardians:
            gpc += guardian_form(policy, action=action, next_path=next_path)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Privacy choices</title></head>
<body><main>
<h1>Privacy choices</h1>
<p>{status}</p>
{gpc}
{choice_form(policy, consent, action=action, next_path=next_path)}
{cookie_tables(policy)}
<p><a href="{escape(policy.notice_url)}">Privacy notice</a> · <a href="{escape(next_path)}">Back</a></p>
</main></body></html>"""


def simple_page(title: str, body: str) -> str:
    """A page with a heading and ``body`` (already HTML): no script, no inline style."""
    return ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title></head>\n<body><main><h1>{escape(title)}</h1>\n{body}</main></body></html>\n")


def redirect_page(location: str, done: str = "Saved") -> str:
    """The body of a 303: for the rare client that does not follow ``Location``."""
    return simple_page(done, f'<p>{escape(done)}. <a href="{escape(location)}">Continue</a></p>')
