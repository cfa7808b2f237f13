"""The reference site's consent policy: the one the README and docs show, plus its ad pixel."""
from consentlib import Beacon, Category, Cookie, Host, Policy, Region

POLICY = Policy(
    revision=3,
    categories=[
        Category("necessary", required=True, label="Strictly necessary",
                 description="Keeps you signed in and remembers this choice. Always on."),
        Category("preferences", label="Preferences", description="Remembers settings such as light or dark mode."),
        Category("analytics", label="Analytics",
                 description="Counts visits so we learn which pages help. Also lets our cache recognise you (ETags)."),
        Category("marketing", gpc=True, sale_or_share=True, label="Marketing",
                 description="Measures ads. Turned off by a Global Privacy Control signal."),
    ],
    cookies=[
        Cookie("sid", "necessary", purpose="Keeps you signed in", lifetime="session"),
        Cookie("age_group", "necessary", purpose="Remembers that you told us you are a child", lifetime="1 year"),
        Cookie("outbox", "necessary", purpose="Shows this browser, and no other, the demo outbox's mail it caused",
               lifetime="1 year"),
        Cookie("demo_region", "necessary", purpose="Development only: where the demo pretends you visit from",
               lifetime="session"),
        Cookie("theme", "preferences", purpose="Remembers light/dark", lifetime="1 year"),
        Cookie("_ga*", "analytics", purpose="Counts visits", lifetime="2 years", third_party="Google"),
        Cookie("_fbp", "marketing", purpose="Ad measurement", lifetime="90 days", third_party="Meta"),
    ],
    beacons=[Beacon("/collect", "analytics"), Beacon("/ads/pixel.gif", "marketing")],
    # The home page's video (consent_embed), when the site is given one: its frame's host,
    # so that third_party_csp lets it in once marketing is granted.
    hosts=[Host("www.youtube-nocookie.com", "marketing", provider="Google")],
    etags="analytics",
    notice_url="/privacy",
    controller="consentlib reference site",
    # Which law applies where (docs/regions.md); anyone else, or unknown, is asked first.
    regions=[
        Region("EEA and UK", "opt-in", ["DE", "FR", "IT", "ES", "NL", "GB"]),
        Region("US opt-out states", "opt-out", ["US-CA", "US-CO", "US-CT", "US-VA"]),
        Region("Rest of the US", "notice", ["US"]),
    ],
)
