"""A corpus of small sites for the audit: careless ones, each careless in one way, and clean ones.

Most careless sites have a working banner with consentlib's element ids (one has buttons
that do nothing, two are OneTrust pages configured carelessly) and publish no
declaration, so the audit judges them as it would any site on the web: by the Open
Cookie Database, and names it does not know by their values. ``CARELESS`` maps a site's
name to its app and to what the audit must name; ``widget_app`` is another site whose
frames ``site_embedding`` embeds (serve it on ``localhost``, the pages on 127.0.0.1);
the apps and functions after "clean" are the clean ones.
"""
from __future__ import annotations

import uuid

from werkzeug.wrappers import Request, Response

from consentlib import Category, ConsentMiddleware, Cookie, Policy
from consentlib.web.tags import banner_tags

PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
         b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

# A banner of the site's own making, with consentlib's ids; the choice goes in a cookie.
WORKING_BANNER = """
<div id="consent-banner" hidden><p>We would like to use cookies.</p>
<button id="consent-accept-all">Accept all</button> <button id="consent-reject-all">Reject all</button></div>
<p><button id="consent-open">Privacy choices</button></p>
<script>
const banner = document.getElementById('consent-banner');
if (!document.cookie.split('; ').some(c => c.startsWith('consent='))) banner.hidden = false;
function choose(value) {
  document.cookie = 'consent=' + value + '; path=/; max-age=31536000; samesite=lax';
  banner.hidden = true;
}
document.getElementById('consent-accept-all').onclick = () => choose('all');
document.getElementById('consent-reject-all').onclick = () => choose('none');
document.getElementById('consent-open').onclick = () => { banner.hidden = false; };
</script>"""

# The same banner, drawn but never wired: its buttons do nothing.
DEAD_BANNER = """
<div id="consent-banner"><p>We would like to use cookies.</p>
<button id="consent-accept-all">Accept all</button> <button id="consent-reject-all">Reject all</button></div>"""


def page(body: str, banner: str = WORKING_BANNER, title: str = "Shop") -> bytes:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<link rel="icon" href="data:,"></head><body><h1>{title}</h1>{body}{banner}</body></html>').encode()


def careless_site(*, snippet: str = "", banner: str = WORKING_BANNER, set_cookie=None, routes=None):
    """A small site whose pages carry ``snippet``; ``set_cookie(request)`` may name a cookie to set."""

    def app(environ, start_response):
        request = Request(environ)
        if routes and request.path in routes:
            return routes[request.path](request)(environ, start_response)
        if request.path not in ("/", "/about"):
            return Response("not found", status=404)(environ, start_response)
        response = Response(page('<p><a href="/about">About us</a></p>' + snippet, banner), content_type="text/html")
        cookie = set_cookie(request) if set_cookie else None
        if cookie:
            response.set_cookie(*cookie, path="/")
        return response(environ, start_response)

    return app


def _no_content(request):
    return Response(status=204)


def _pixel_with_visitor_etag(request):
    """The "ETag instead of a cookie" trick: a new tag per new visitor, echoed back while it is sent."""
    tag = request.headers.get("If-None-Match") or f'"{uuid.uuid4().hex}"'
    response = Response(PIXEL, content_type="image/gif") if "If-None-Match" not in request.headers \
        else Response(status=304)
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = "no-cache"
    return response


def _ga_on_about(request):
    return ("_ga", "GA1.1.42.1700000000") if request.path == "/about" else None


# A visitor id under a name no database knows, kept for the tab's life: "sx_vid" is made up.
SESSION_ID = '<script>sessionStorage.setItem("sx_vid", crypto.randomUUID());</script>'

# The same kind of id in IndexedDB, as analytics SDKs that outgrew localStorage keep it.
INDEXEDDB_ID = """<script>
const open = indexedDB.open("visitor-db", 1);
open.onupgradeneeded = () => open.result.createObjectStore("ids");
open.onsuccess = () => open.result.transaction("ids", "readwrite").objectStore("ids").put(crypto.randomUUID(), "me");
</script>"""

# The classic canvas fingerprint: text drawn on a canvas that is never shown, read back.
CANVAS_FINGERPRINT = """<script>
const canvas = document.createElement("canvas");
const context = canvas.getContext("2d");
context.textBaseline = "top"; context.font = "14px Arial"; context.fillText("Cwm fjordbank glyphs vext quiz", 2, 2);
window.visitorPrint = canvas.toDataURL().length;
</script>"""

# The GPU's own name, which WebGL hides unless asked for through the debug extension.
WEBGL_FINGERPRINT = """<script>
const gl = document.createElement("canvas").getContext("webgl");
const info = gl && gl.getExtension("WEBGL_debug_renderer_info");
window.visitorGpu = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : "";
</script>"""

# The audio fingerprint: a tone rendered off-line through a compressor; the samples differ by device.
AUDIO_FINGERPRINT = """<script>
const audio = new OfflineAudioContext(1, 5000, 44100);
const tone = audio.createOscillator(), squeeze = audio.createDynamicsCompressor();
tone.type = "triangle"; tone.frequency.value = 10000;
tone.connect(squeeze); squeeze.connect(audio.destination); tone.start(0);
audio.startRendering().then(b => { window.visitorSound = b.getChannelData(0).slice(4500).reduce((a, v) => a + Math.abs(v), 0); });
</script>"""


#: name -> (app, what the audit's output must name, the state it happens in)
CARELESS = {
    "server-cookie": (careless_site(set_cookie=lambda r: ("_ga", "GA1.1.42.1700000000")), "_ga", "before"),
    "script-cookie": (careless_site(snippet='<script>document.cookie = "_fbp=fb.1.1700000000.42; path=/";</script>'),
                      "_fbp", "before"),
    "send-beacon": (careless_site(snippet='<script>navigator.sendBeacon("/collect", "page=home");</script>',
                                  routes={"/collect": _no_content}), "/collect", "before"),
    "tracker-storage": (careless_site(snippet='<script>localStorage.setItem("_hjid", "a1b2c3");</script>'),
                        "_hjid", "before"),
    # Any choice counts as consent: the classic "we only check that you answered".
    "cookie-after-reject": (careless_site(set_cookie=lambda r: ("_gcl_au", "1.1.42.1700000000")
                                          if "consent" in r.cookies else None), "_gcl_au", "rejected"),
    "etag-after-reject": (careless_site(snippet='<img src="/pixel.gif" alt="" width="1" height="1">',
                                        routes={"/pixel.gif": _pixel_with_visitor_etag}), "/pixel.gif", "rejected"),
    "dead-buttons": (careless_site(banner=DEAD_BANNER), "Reject all", "rejected"),
    "session-storage-id": (careless_site(snippet=SESSION_ID), "sx_vid", "before"),
    "indexeddb-id": (careless_site(snippet=INDEXEDDB_ID), "visitor-db", "before"),
    "canvas-fingerprint": (careless_site(snippet=CANVAS_FINGERPRINT), "canvas toDataURL", "before"),
    "webgl-fingerprint": (careless_site(snippet=WEBGL_FINGERPRINT), "WebGL UNMASKED", "before"),
    "audio-fingerprint": (careless_site(snippet=AUDIO_FINGERPRINT), "OfflineAudioContext", "before"),
    # Any answer, "Reject all" too, gets a visitor id under the shop's own name.
    "id-after-reject": (careless_site(set_cookie=lambda r: ("shop_vid", uuid.uuid4().hex)
                                      if "consent" in r.cookies and "shop_vid" not in r.cookies else None),
                        "shop_vid", "rejected"),
    # Only /about sets _ga; the audit looks at three pages unless told otherwise.
    "cookie-on-other-page": (careless_site(set_cookie=_ga_on_about), "_ga", "before"),
}


def ga_on_second_page():
    """Clean on its home page; its /about page sets _ga before any choice."""
    return careless_site(set_cookie=_ga_on_about)


def ga_and_dead_buttons():
    """The issue's site: _ga before any choice, and a banner whose buttons do nothing."""
    return careless_site(banner=DEAD_BANNER, set_cookie=lambda r: ("_ga", "GA1.1.42.1700000000"))


# -- a consent manager's page: careless in its configuration, or clean --------------------------

def onetrust_page(*, reject_on_first_layer: bool = True, preticked: bool = False) -> bytes:
    """A page with OneTrust's element ids: its banner, its preference centre, its cookies.

    ``reject_on_first_layer=False`` is OneTrust's banner with its "Reject All" button
    switched off: only "Accept All" and "Cookie Settings", the refusal one layer down.
    ``preticked`` writes an OptanonConsent cookie granting every group on the first page
    view, before the visitor answered, as a site configured for "implied consent" does.
    """
    reject = '<button id="onetrust-reject-all-handler">Reject All</button>' if reject_on_first_layer else ""
    implied = ("if (!has('OptanonConsent')) document.cookie = 'OptanonConsent=isGpcEnabled=0&groups=' + "
               "encodeURIComponent('C0001:1,C0002:1,C0003:1,C0004:1') + year;") if preticked else ""
    return page("<p>Static page with a OneTrust-style banner.</p>", banner=f"""
<div id="onetrust-consent-sdk"><div id="onetrust-banner-sdk" style="display:none">
<p>We use cookies to improve your experience.</p>
<button id="onetrust-pc-btn-handler">Cookie Settings</button>
{reject}
<button id="onetrust-accept-btn-handler">Accept All Cookies</button></div>
<div id="onetrust-pc-sdk" style="display:none"><p>Your privacy choices.</p>
<button class="ot-pc-refuse-all-handler">Reject All</button>
<button id="accept-recommended-btn-handler">Allow All</button></div>
<button id="ot-sdk-btn" class="ot-sdk-show-settings">Cookie Settings</button></div>
<script>
const banner = document.getElementById('onetrust-banner-sdk');
const centre = document.getElementById('onetrust-pc-sdk');
const has = name => document.cookie.split('; ').some(c => c.startsWith(name + '='));
const year = '; path=/; max-age=31536000; samesite=lax';
function granted() {{ return (document.cookie.match(/OptanonConsent=[^;]*groups=([^;]*)/) || [])[1] || ''; }}
{implied}
if (!has('OptanonAlertBoxClosed')) banner.style.display = 'block';
if (granted().includes('C0002%3A1')) document.cookie = '_ga=GA1.1.42.1700000000' + year;
function choose(groups) {{
  document.cookie = 'OptanonConsent=isGpcEnabled=0&groups=' + encodeURIComponent(groups) + year;
  document.cookie = 'OptanonAlertBoxClosed=' + new Date().toISOString() + year;
  banner.style.display = 'none'; centre.style.display = 'none';
}}
const all = () => choose('C0001:1,C0002:1,C0004:1'), none = () => choose('C0001:1,C0002:0,C0004:0');
document.getElementById('onetrust-accept-btn-handler').onclick = all;
document.getElementById('accept-recommended-btn-handler').onclick = all;
document.querySelector('.ot-pc-refuse-all-handler').onclick = none;
if ({'true' if reject_on_first_layer else 'false'}) document.getElementById('onetrust-reject-all-handler').onclick = none;
document.getElementById('onetrust-pc-btn-handler').onclick = () => {{
  banner.style.display = 'none'; centre.style.display = 'block'; }};
document.getElementById('ot-sdk-btn').onclick = () => {{ banner.style.display = 'block'; }};
</script>""", title="OneTrust shop")


ONETRUST_PAGE = onetrust_page()


def static_site(body: bytes):
    """A one-page site serving ``body`` at / and nothing else."""

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/":
            return Response("not found", status=404)(environ, start_response)
        return Response(body, content_type="text/html")(environ, start_response)

    return app


CARELESS["cmp-preticked"] = (static_site(onetrust_page(preticked=True)), "OptanonConsent", "before")
CARELESS["no-reject-on-first-layer"] = (static_site(onetrust_page(reject_on_first_layer=False)),
                                        "no 'Reject all'", "before")


# -- clean ------------------------------------------------------------------------------------

onetrust_site = static_site(ONETRUST_PAGE)

#: A brochure site: text and links, nothing stored, nothing sent, so no banner is needed.
nothing_to_consent_to = careless_site(banner="", snippet='<footer class="privacy-footer">'
                                      '<a href="/about#privacy">Privacy policy</a></footer>')


def widget_app(environ, start_response):
    """Another site's widgets. ``/chat`` (a chat box) gives every visitor an id in a cookie of its
    own, SameSite=None so it is sent from inside other sites' pages; ``/stats`` (a visitor
    counter) reports each page view from inside its frame with sendBeacon."""
    path = environ.get("PATH_INFO")
    if path == "/stats":
        body = b'<!doctype html><title>Visits</title><script>navigator.sendBeacon("/hit", "view");</script>'
        return Response(body, content_type="text/html")(environ, start_response)
    if path == "/hit":
        return Response(status=204)(environ, start_response)
    response = Response(b"<!doctype html><title>Chat</title><p>Chat with us</p>", content_type="text/html")
    response.set_cookie("wvid", uuid.uuid4().hex, path="/", secure=True, samesite="None", max_age=31536000)
    return response(environ, start_response)


def site_embedding(widget_url: str):
    """A site with a working banner whose pages embed ``widget_url`` before any choice."""
    return careless_site(snippet=f'<iframe src="{widget_url}" title="chat" width="300" height="80"></iframe>')


SESSIONID_POLICY = Policy(
    revision=1,
    categories=[Category("necessary", required=True), Category("analytics")],
    cookies=[Cookie("sessionid", "necessary", purpose="Keeps your basket"),
             Cookie("_ga*", "analytics", purpose="Counts visits")],
)


def sessionid_site(store: str):
    """A consentlib site whose necessary session cookie is called ``sessionid`` (Django's name)."""

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/":
            return Response("not found", status=404)(environ, start_response)
        tags = banner_tags(environ, prefix="/_consent/", revision=SESSIONID_POLICY.revision)
        response = Response(f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Basket</title>'
                            f'<link rel="icon" href="data:,">{tags}</head><body><h1>Basket</h1></body></html>',
                            content_type="text/html")
        response.set_cookie("sessionid", "b4sk3t", path="/", httponly=True)
        response.set_cookie("_ga", "GA1.1.42.1700000000", path="/")  # gated by the middleware
        return response(environ, start_response)

    return ConsentMiddleware(app, SESSIONID_POLICY, secret_key=["audit-corpus-key-0123456789abcdef"], store=store)


#: What a site's own policy may say against the database (for --policy): _ga counted as necessary.
GA_NECESSARY = Policy(
    revision=1,
    categories=[Category("necessary", required=True)],
    cookies=[Cookie("_ga*", "necessary", purpose="(declared so by the site)")],
)
