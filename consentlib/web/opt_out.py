"""``GET/POST {prefix}opt-out``: the "Do Not Sell or Share My Personal Information" page.

Cal. Civ. Code §1798.135(a)(1) asks a business that sells or shares personal
information for a clear link titled "Do Not Sell or Share My Personal Information" to
a page where the consumer opts out; 11 CCR §7026 asks that opting out be easy and take
no account or more steps than needed. ``GET`` shows the page and its one-button form,
``POST`` records the opt-out: a receipt with method "opt-out", and the consent cookies,
which from then on grant only the required categories (every regime reads the cookie
as the visitor's choice). The finer choice per category stays on the preferences page.

The page answers in the visitor's language, from the message catalogues
(``opt_out_*`` in consentlib/locale): the English title is the statutory one; the other
languages say the same request plainly, for a visitor of a US state who reads them.
"""
from __future__ import annotations

from urllib.parse import quote

from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from consentlib.consent import Consent
from consentlib.web.choices import Choices
from consentlib.web.context import EndpointContext
from consentlib.web.exchange import Answer, Request, Response
from consentlib.web.http import cross_origin_refusal, respond, respond_html, safe_next

# Inside page.html's <main>, after its <h1> (the title): the layout of the other pages.
_BODY = """<p>{explain}</p>{state}
<form method="post" action="{action}" class="consent-form">
<input type="hidden" name="next" value="{next}">
<p><button type="submit" name="action" value="opt_out">{button}</button></p>
</form>
<p><a href="{preferences}">{more}</a></p>"""


class OptOut:
    """The opt-out page and its form, for one site."""

    def __init__(self, context: EndpointContext, choices: Choices) -> None:
        self.context = context
        self.choices = choices

    def __call__(self, request: Request, consent: Consent) -> Answer:
        if request.method in ("GET", "HEAD"):
            return self.page(request, consent)
        if request.method == "POST":
            return self.record(request, consent)
        return respond(405, {"error": "Use GET, HEAD or POST here."}, headers=[("Allow", "GET, HEAD, POST")])

    def page(self, request: Request, consent: Consent) -> Response:
        next_path = safe_next(request, request.args.get("next"))
        page = self.context.templates.for_request(request)
        required = self.context.policy.required
        opted_out = consent.decided and consent.chosen <= required
        state = ""
        if opted_out:
            state += f"\n<p><strong>{page.text('opt_out_done')}</strong></p>"
        if consent.gpc:
            state += f"\n<p>{page.text('opt_out_gpc')}</p>"
        prefix = self.context.prefix
        body = Markup(_BODY.format(
            explain=page.text("opt_out_explain"), state=state,
            action=escape(f"{prefix}opt-out"), next=escape(next_path), button=page.text("opt_out_button"),
            preferences=escape(f"{prefix}preferences?next={quote(next_path, safe='/')}"),
            more=page.text("opt_out_more")))
        # The page shows this visitor's state: it varies with their cookies and GPC, and
        # (page.headers) with Accept-Language.
        return respond_html(200, page.document(page.text("opt_out_title"), body),
                            headers=[*page.headers, ("Vary", "Cookie, Sec-GPC")])

    def record(self, request: Request, consent: Consent) -> Answer:
        refusal = cross_origin_refusal(request, self.context.trusted_origins)
        if refusal:
            return respond(403, {"error": refusal})
        if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return respond(415, {"error": "Post the opt-out form (application/x-www-form-urlencoded)."})
        if request.over_limit:
            return respond(413, {"error": f"The request body is over {self.context.max_body} bytes; "
                                          "an opt-out needs far less."})
        try:
            form = request.form(self.context.max_body)
        except HTTPException as exc:
            return respond(exc.code or 400, {"error": exc.description or "The request body could not be read."})
        if form.get("action", "opt_out") != "opt_out":
            return respond(400, {"error": "This form only opts out: send action=opt_out, or post other "
                                          f"choices to {self.context.prefix}."})
        # Only the required categories: an opt-out of sale, sharing and every other
        # optional use, recorded as a choice so it outlives this request.
        return self.choices.store(request, consent, frozenset(), "opt-out", form.get("next"))
